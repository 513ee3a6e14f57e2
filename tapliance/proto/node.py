"""The node: a daemon's whole sans-IO core, the switch and the protocols behind its ports.

The runtime feeds it frames from the TAP (``on_frame``), hands each transport's input to that
transport's protocol (``protocols``), calls ``on_timer`` at the deadline it returned, and after every
call drains ``to_tap`` (frames for the TAP), each protocol's ``tx`` and ``events``. Drops of every
protocol and of the runtime are counted in the one ``drops`` object, by reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tapliance.proto.protocol import Context, Protocol
from tapliance.proto.switch import Switch


class Node:
    def __init__(self, ctx: Context, protocols: Sequence[Protocol[Any]], *, tap_vnet: bool) -> None:
        self.ctx = ctx
        self.protocols = list(protocols)
        self.switch = Switch(self.protocols, tap_vnet=tap_vnet, drops=ctx.drops, events=ctx.events)
        self.on_frame = self.switch.from_tap  # bound once: the TAP read loop calls it per frame
        self.to_tap = self.switch.to_tap
        self.drops = ctx.drops
        self.events = ctx.events

    def on_timer(self, now: float) -> float:
        """Run every protocol's due timers (and age the MAC table); return the earliest next deadline."""
        self.switch.macs.expire(now)
        return min(p.on_timer(now) for p in self.protocols)

    def status(self, now: float) -> dict[str, Any]:
        """One snapshot: the first protocol's own fields at the top (the native suite's public key and
        suite), every protocol's peers, the drops and the switch."""
        out: dict[str, Any] = {}
        for p in reversed(self.protocols):
            out.update(p.status(now))
        out["peers"] = [p.protocol.port_status(p, now) for p in self.switch.ports]
        out["drops"] = dict(sorted(self.drops.items()))
        out["mac_table"] = len(self.switch.macs)
        out["mac_flaps"] = self.switch.macs.flaps
        out["mac_refused"] = self.switch.macs.refused
        out["hub"] = self.switch.hub
        return out
