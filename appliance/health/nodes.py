"""The recorder nodes on the health page (issue 19): per node its heartbeat age, the cameras it
holds, its free space against its floor; empty on a single box (no ``[node] id``)."""

from __future__ import annotations

from sqlmodel import Session

from appliance.nodes import NodeInfo, list_nodes
from appliance.settings import Settings

__all__ = ["node_health"]


def node_health(session: Session, settings: Settings) -> list[NodeInfo]:
    """Every registered node; live by the lease time to live of this configuration."""
    return list_nodes(session, int(settings.node.lease_ttl_s * 1000))
