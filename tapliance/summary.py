"""What `tapliance check-config` says about the peers that are not plain native UDP ones: each legacy peer
(its suite, socket, key material checked, weakness) and each peer carried over TCP."""

from __future__ import annotations

from tapliance import config as C
from tapliance.assembly import Keys
from tapliance.suites import REGISTRY


def legacy_lines(cfg: C.Config, keys: Keys) -> list[str]:
    """Each legacy peer: its suite and socket, its key material checked (without the writes a start does),
    and the weakness of an insecure suite."""
    from tapliance.compat.build import check_codec, listen_address

    lines = []
    for i, p in enumerate(cfg.peers):
        if not p.legacy:
            continue
        notes = check_codec(p, keys.private)
        ep = str(p.endpoint) if p.endpoint else "learned from its first authenticated datagram"
        name = p.name or f"{p.suite}-{i}"
        lines.append(f"  peer {name} suite {p.suite} listen udp {listen_address(p)} endpoint {ep}")
        lines += [f"    {n}" for n in notes]
        weakness = REGISTRY[p.suite].insecure
        if weakness:
            lines.append(f"    INSECURE (allow_insecure = true): {weakness}")
    return lines


def tcp_lines(cfg: C.Config) -> list[str]:
    """The TCP listener and each peer carried over TCP (password files read and checked)."""
    from tapliance.tcpassembly import tcp_specs

    specs = tcp_specs(cfg)
    lines = (
        [
            f"  listen tcp {cfg.tunnel.tcp_listen}"
            + (f" sharing the port with {cfg.tunnel.tcp_share_backend}" if cfg.tunnel.tcp_share_backend else "")
        ]
        if cfg.tunnel.tcp_listen
        else []
    )
    for i, spec in specs:
        p, pol = cfg.peers[i], spec.policy
        ep = f"{spec.endpoint[0]}:{spec.endpoint[1]}" if spec.endpoint else "dials us"
        who = "key" if spec.public_key else "public" if pol.public else "password" if pol.require_password else "raw"
        lines.append(
            f"  peer {spec.name} transport {p.transport} tcp {ep} encryption {pol.encryption} "
            f"client known by {who}" + (" password" if pol.password else "")
        )
        if pol.encryption != "required" or pol.password_in_clear:
            lines.append(
                "    INSECURE (allow_insecure = true): "
                + ("password in the clear" if pol.password_in_clear else f"tcp_encryption {pol.encryption}")
            )
    return lines
