"""Several recorder nodes on one database (issue 19; design/scale.md, "Recorder nodes").

``registry`` (a node's row and heartbeat, which nodes are live), ``leases`` (one lease row per
camera: acquire, renew, release, and the fence a segment row is inserted under),
``assignment`` (the pure rule that says which live node should record which camera), ``dbtime``
(the database server's clock, which every lease time is measured on).
"""

from __future__ import annotations

from appliance.nodes.assignment import desired_owners
from appliance.nodes.dbtime import db_now_ms
from appliance.nodes.leases import (
    Grant,
    How,
    LeaseLost,
    acquire,
    check_fence,
    ensure_leases,
    release,
    renew,
)
from appliance.nodes.registry import (
    NodeInfo,
    beat,
    deregister,
    list_nodes,
    live_location,
    register,
)

__all__ = [
    "Grant",
    "How",
    "LeaseLost",
    "NodeInfo",
    "acquire",
    "beat",
    "check_fence",
    "db_now_ms",
    "deregister",
    "desired_owners",
    "ensure_leases",
    "list_nodes",
    "live_location",
    "register",
    "release",
    "renew",
]
