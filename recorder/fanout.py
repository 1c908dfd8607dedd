"""The live-view hook: a camera's samples, fanned out to subscribers as they arrive.

The fan-out itself (bounded queues, the cached GOP a new viewer starts from) is
``appliance.viewing.fanout``: the live transcoder of H.265 cameras publishes on one too.
The recorder publishes every video sample while ``PacketFanout.wanted`` (the GOP is kept even
when nobody watches, so a viewer's first picture is there at once).
"""

from __future__ import annotations

from appliance.viewing.fanout import PacketFanout, Subscription

__all__ = ["PacketFanout", "Subscription"]
