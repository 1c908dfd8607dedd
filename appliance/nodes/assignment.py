"""Which live node should record which camera: a pure rule every node computes alike.

A camera configured to a node (``cameras[].node``, else ``groups[].node``) goes to that node
while it is live; every other camera, and a configured one whose node is down, goes to the live
node with the highest rendezvous hash of (camera, node) (HRW): balanced, and when a node leaves
or joins only the cameras it had (or wins) move. Every node computes the same answer from the
same list of live nodes, so they do not race for a camera; the leases make a race harmless
anyway (``appliance.nodes.leases``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

__all__ = ["desired_owners", "rendezvous"]


def rendezvous(camera_id: str, nodes: Iterable[str]) -> str | None:
    """The node with the highest hash for ``camera_id`` (None when no node is live)."""
    best: tuple[bytes, str] | None = None
    for node in nodes:
        weight = hashlib.blake2b(f"{camera_id}\0{node}".encode(), digest_size=8).digest()
        if best is None or (weight, node) > best:
            best = (weight, node)
    return None if best is None else best[1]


def desired_owners(preferred: Mapping[str, str], live: Iterable[str]) -> dict[str, str]:
    """Camera id -> the live node that should record it (cameras with no live node left out).

    ``preferred`` maps every camera to its configured node ("" for none)."""
    nodes = sorted(set(live))
    out: dict[str, str] = {}
    for camera_id, node in preferred.items():
        owner = node if node in nodes else rendezvous(camera_id, nodes)
        if owner is not None:
            out[camera_id] = owner
    return out
