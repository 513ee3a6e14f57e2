"""Address handout: each client of a hub gets stable addresses from the ``[pool]``, tied to its public key.

Allocation is deterministic first (a hash of the key picks the starting offset in the range, then the
next free address), so even a lost leases file usually gives a client its old address back; a lease, once
given, is kept in the leases file and never changes while the peer stays configured and the pool holds
it. Reservations (``[[peer]] reserve``) are theirs alone. Peers with ``lease = false`` get nothing.

What a client is handed is the QuickTun TCP protocol's *set network configuration* (command 11) and
*routing information update* (command 12): one encoding for both carriers, sent in-band over the native
protocol (control messages, docs/protocol.md) or over a TCP connection.

The leases file is JSON, written atomically (a temporary file, fsync, rename, fsync of the directory).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tapliance.atomic import write_atomic
from tapliance.config.fields import IPAddress, IPInterface
from tapliance.config.pool import AddressRange, PoolConfig, subnet_of
from tapliance.proto.qtcp import wire as Q

log = logging.getLogger("tapliance")


@dataclass
class Lease:
    name: str
    v4: ipaddress.IPv4Interface | None
    v6: ipaddress.IPv6Interface | None
    since: float

    def shown(self) -> str:
        return ", ".join(str(a) for a in (self.v4, self.v6) if a) or "-"


class Leases:
    def __init__(
        self,
        pool: PoolConfig,
        own: tuple[IPInterface, ...],
        peers: Iterable[tuple[bytes, str, tuple[IPAddress, ...], bool]],
    ) -> None:
        """``peers``: (public key, name, reservations, takes a lease) of every configured peer."""
        self.pool = pool
        self.ranges: dict[int, tuple[AddressRange, int]] = {}
        for rng in (pool.ipv4, pool.ipv6):
            if rng is not None:
                home = subnet_of(rng, own)
                assert home is not None  # checked with the config
                self.ranges[rng.version] = (rng, home.network.prefixlen)
        self.names = {k: n for k, n, _, _ in peers}
        self.reserved = {k: r for k, _, r, _ in peers if r}
        self.exempt = {k for k, _, _, takes in peers if not takes}
        self.held: dict[IPAddress, bytes] = {ip: k for k, rs in self.reserved.items() for ip in rs}
        self.leases: dict[bytes, Lease] = {}
        self.dirty = False

    # -- allocation ---------------------------------------------------------------------------------------

    def get(self, key: bytes, now: float) -> Lease | None:
        """The client's lease, allocated on first use; None for an exempt or unknown peer or a full pool."""
        if key in self.exempt or key not in self.names:
            return None
        lease = self.leases.get(key)
        if lease is None:
            lease = Lease(self.names[key], None, None, now)
            for version in self.ranges:
                setattr(lease, f"v{version}", self._allocate(key, version))
            if lease.v4 is None and lease.v6 is None:
                log.warning("pool exhausted: no address for peer %s", self.names[key])
                return None
            self.leases[key] = lease
            self.dirty = True
            log.info("lease: peer %s gets %s", lease.name, lease.shown())
        return lease

    def _allocate(self, key: bytes, version: int) -> Any:
        rng, prefix = self.ranges[version]
        mine = next((ip for ip in self.reserved.get(key, ()) if ip.version == version), None)
        if mine is not None:
            return ipaddress.ip_interface(f"{mine}/{prefix}")
        start = int.from_bytes(hashlib.blake2s(key + bytes([version])).digest()[:8], "big")
        for i in range(min(rng.size, 1 << 20)):
            ip = rng.at(start + i)
            if ip not in self.held:
                self.held[ip] = key
                return ipaddress.ip_interface(f"{ip}/{prefix}")
        return None

    # -- what a client is sent ----------------------------------------------------------------------------

    def messages(self, lease: Lease) -> list[bytes]:
        """Set network configuration, then one routing update per pushed route (control payloads)."""
        p = self.pool
        gw = {g.version: g for g in p.gateway}
        dns4 = next((d for d in p.dns if isinstance(d, ipaddress.IPv4Address)), None)
        dns6 = next((d for d in p.dns if isinstance(d, ipaddress.IPv6Address)), None)

        def peer(version: int, mine: Any) -> Any:
            return ipaddress.ip_interface(f"{gw[version]}/{mine.network.prefixlen}") if version in gw and mine else None

        cfg = Q.NetworkConfig(
            ethernet=True,
            v4=lease.v4,
            v4_peer=peer(4, lease.v4),
            v4_dns=dns4,
            v6=lease.v6,
            v6_peer=peer(6, lease.v6),
            v6_dns=dns6,
        )
        out = [cfg.encode()]
        for n in p.routes:
            fam = Q.FAMILY_V4 if n.version == 4 else Q.FAMILY_V6
            out.append(Q.RouteUpdate(fam, True, n.network_address.packed, n.prefixlen).encode())
        return out

    def status(self) -> list[dict[str, Any]]:
        return [
            {
                "peer": lease.name,
                "public_key": base64.b64encode(k).decode(),
                "v4": str(lease.v4 or "") or None,
                "v6": str(lease.v6 or "") or None,
                "reserved": k in self.reserved,
            }
            for k, lease in sorted(self.leases.items(), key=lambda kv: kv[1].name)
        ]

    # -- the file -----------------------------------------------------------------------------------------

    def load(self, data: dict[str, Any]) -> None:
        """Leases from the file, kept where they still fit: the peer is configured and takes a lease, the
        address is in today's pool and not reserved for someone else."""
        for k64, item in (data.get("leases") or {}).items():
            try:
                key = base64.b64decode(k64, validate=True)
                addrs = [ipaddress.ip_interface(item[f]) for f in ("v4", "v6") if item.get(f)]
            except (ValueError, TypeError, KeyError):
                continue
            if key not in self.names or key in self.exempt:
                continue
            lease = Lease(self.names[key], None, None, float(item.get("since", 0)))
            for a in addrs:
                rng = self.ranges.get(a.version)
                if rng is None or a.ip not in rng[0] or self.held.get(a.ip, key) != key:
                    continue
                self.held[a.ip] = key
                setattr(lease, f"v{a.version}", ipaddress.ip_interface(f"{a.ip}/{rng[1]}"))
            if lease.v4 or lease.v6:
                self.leases[key] = lease

    def dump(self) -> dict[str, Any]:
        return {
            "version": 1,
            "leases": {
                base64.b64encode(k).decode(): {
                    "name": v.name,
                    "v4": str(v.v4) if v.v4 else None,
                    "v6": str(v.v6) if v.v6 else None,
                    "since": v.since,
                }
                for k, v in self.leases.items()
            },
        }


def read_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        log.warning("leases file %s unreadable (%s): starting with none", path, e)
        return {}
    return data if isinstance(data, dict) else {}


def write_file(path: Path, data: dict[str, Any]) -> None:
    """Atomically (tapliance.atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(data, indent=1).encode(), 0o644)
