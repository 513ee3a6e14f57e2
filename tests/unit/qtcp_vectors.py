"""The published test vectors of the QuickTun TCP protocol (docs/protocol-tcp-vectors.json, described in
docs/protocol-tcp.md): fixed keys (``fixed_key``), a deterministic randomness stream per end and a fixed
clock; every message of four of the spec's flows as it crossed the stream, with the keys and nonce it was
sealed under. ``published()`` recomputes them with today's code; test_qtcp_doc.py holds the file to it.
``python -m tests.unit.qtcp_vectors`` rewrites the file (only after a deliberate change of the protocol)."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

from tapliance.proto.qtcp import wire as Q
from tapliance.proto.qtcp.crypto import KEY0_PUBLIC, KEY0_SECRET
from tapliance.proto.qtcp.policy import Policy
from tapliance.proto.qtcp.session import Connection
from tests.unit.qtcp_pair import Stream, fixed_key

FILE = Path(__file__).resolve().parents[2] / "docs" / "protocol-tcp-vectors.json"
PASSWORD = b"correct horse battery staple"
FRAME_AB = bytes.fromhex("02000000000b02000000000a08004500") + bytes(range(48))  # 64 bytes, A's TAP to B's
FRAME_BA = bytes.fromhex("02000000000a02000000000b08004500") + bytes(range(48, 96))
RUNS: dict[str, tuple[Policy, Policy, bool]] = {
    "encrypted-authenticated": (Policy(keepalive=1000, rekey_after=60), Policy(keepalive=1000, rekey_after=60), True),
    "encrypted-public-password": (
        Policy(anonymous=True, password=PASSWORD, keepalive=1000),
        Policy(password=PASSWORD, require_password=True, keepalive=1000),
        False,
    ),
    "authenticated-unencrypted": (
        Policy(encryption="auth-only", keepalive=1000),
        Policy(encryption="auth-only", keepalive=1000),
        True,
    ),
    "raw": (Policy(encryption="off", keepalive=1000), Policy(encryption="off", keepalive=1000), False),
}


class _Names:
    """Names for the keys of a run in the spec's notation; the secrets of the session keys are published
    too (these are test vectors), so each box can be recomputed from the tables."""

    def __init__(self) -> None:
        self.names = {KEY0_PUBLIC: "key0", fixed_key("A").public: "keyA", fixed_key("B").public: "keyB"}
        self.count = {"A": 0, "B": 0}
        self.sessions: dict[str, dict[str, str]] = {}

    def __call__(self, public: bytes, side: str, secret: bytes | None = None) -> str:
        if public not in self.names:
            self.count[side] += 1
            self.names[public] = f"keyS{side}{self.count[side]}"
        if secret is not None and self.names[public].startswith("keyS"):
            self.sessions[self.names[public]] = {"secret": secret.hex(), "public": public.hex()}
        return self.names[public]


def _record(c: Connection, side: str, names: _Names, log: list[dict[str, Any]]) -> None:
    send = c.send
    seal = send.seal

    def recording(plain: bytes) -> bytes:
        entry: dict[str, Any] = {"from": side, "plain": plain.hex()}
        if send.encrypted:
            local = names(send.local.public, side, send.local.secret)
            entry["sealed"] = f"{local}->{names(send.remote, 'AB'[side == 'A'])}"
            entry["nonce"] = send.nonce.hex()
        else:
            entry["sealed"] = "clear"
        out = seal(plain)
        entry["payload"] = out.hex()
        log.append(entry)
        return out

    send.seal = recording  # type: ignore[method-assign]


def _messages(chunks: list[bytes]) -> list[tuple[bool, bytes]]:
    """(control?, the message's bytes) for every message an end put on the stream, in order."""
    data, out, i = b"".join(chunks), [], 0
    while i < len(data):
        head = int.from_bytes(data[i : i + 2], "big")
        n = 2 + (head & Q.MAX_PAYLOAD)
        out.append((bool(head & Q.CONTROL), data[i : i + n]))
        i += n
    return out


def run(name: str) -> dict[str, Any]:
    client, server, knows = RUNS[name]
    s = Stream(client, server, server_knows_key=knows, seed=f"qtcp-vectors-{name}-".encode())
    seals: list[dict[str, Any]] = []
    names = _Names()
    (cc,) = s.client.proto.conns.values()
    (sc,) = s.server.proto.conns.values()
    _record(cc, "A", names, seals)  # nothing is sealed before the first take: the opening is recorded too
    _record(sc, "B", names, seals)
    order: list[str] = []
    for end, side in ((s.client, "A"), (s.server, "B")):
        take = end.proto.take

        def taking(conn: int, room: int, take: Any = take, side: str = side) -> bytes:
            out = take(conn, room)
            order.extend(side for _ in _messages([out]))
            return out

        end.proto.take = taking  # type: ignore[method-assign]
    s.pump()
    s.client.node.on_frame(FRAME_AB, s.now)
    s.pump()
    s.server.node.on_frame(FRAME_BA, s.now)
    s.pump()
    if name == "encrypted-authenticated":
        s.now += 61  # both ends renew their session keys; frames cross under the new ones
        s.client.proto.on_timer(s.now)
        s.server.proto.on_timer(s.now)
        s.pump()
        s.client.node.on_frame(FRAME_AB, s.now)
        s.pump()
    assert not s.closed and cc.enabled and sc.enabled, name
    wires = {"A": iter(_messages(s.client.sent)), "B": iter(_messages(s.server.sent))}
    by_side = {"A": iter([e for e in seals if e["from"] == "A"]), "B": iter([e for e in seals if e["from"] == "B"])}
    out = []
    for side in order:
        control, wire = next(wires[side])
        e = next(by_side[side])
        plain = bytes.fromhex(e.pop("plain"))
        e["command"] = " + ".join(Q.NAMES[m[0]] for m in Q.unwrap(plain)) if control else "tunnel data"
        e["plain"] = plain.hex()
        e["wire"] = wire.hex()
        del e["payload"]
        out.append(e)
    return {"session_keys": dict(sorted(names.sessions.items())), "messages": out}


def published() -> dict[str, Any]:
    return {
        "key0": {"secret": KEY0_SECRET.hex(), "public": KEY0_PUBLIC.hex()},
        "keys": {n: {"secret": fixed_key(n).secret.hex(), "public": fixed_key(n).public.hex()} for n in "AB"},
        "password": PASSWORD.decode(),
        "runs": {name: run(name) for name in RUNS},
    }


DOC = FILE.with_name("protocol-tcp.md")
SAMPLE_NET = Q.NetworkConfig(
    ethernet=True,
    v4=ipaddress.IPv4Interface("10.8.0.2/24"),
    v4_peer=ipaddress.IPv4Interface("10.8.0.1/24"),
    v4_dns=ipaddress.IPv4Address("10.8.0.1"),
    v6=ipaddress.IPv6Interface("fd08::2/64"),
)
SAMPLE_ROUTE = Q.RouteUpdate(Q.FAMILY_V4, True, bytes([192, 168, 50, 0]), 24, (64512, 64513))


def command_examples() -> list[tuple[str, bytes]]:
    """One example of every command, as the control payload (before sealing) and then as a whole message."""
    nonce = bytes(range(24))
    key = fixed_key("A").public
    return [
        ("0 start tunnel data", Q.command(Q.START_TUNNEL)),
        ("1 start crypto auth (keyA, nonce input 00..17)", Q.start_crypto(key, nonce)),
        ("2 acknowledge crypto auth", Q.command(Q.ACK_CRYPTO)),
        ("3 begin key update (keyA)", Q.command(Q.BEGIN_KEY_UPDATE, key)),
        ("4 acknowledge key update", Q.command(Q.ACK_KEY_UPDATE)),
        ("5 start password authentication (salt 00..0f)", Q.command(Q.START_PASSWORD, bytes(range(16)))),
        (
            "6 acknowledge password authentication",
            Q.command(Q.ACK_PASSWORD, Q.password_hash(bytes(range(16)), PASSWORD)),
        ),
        ("7 disable encryption", Q.command(Q.DISABLE_ENCRYPTION)),
        ("8 acknowledge disable encryption", Q.command(Q.ACK_DISABLE_ENCRYPTION)),
        ("9 echo request (8 bytes)", Q.command(Q.ECHO_REQUEST, bytes.fromhex("41d954fc40000000"))),
        ("10 echo response", Q.command(Q.ECHO_RESPONSE, bytes.fromhex("41d954fc40000000"))),
        ("11 set network configuration", SAMPLE_NET.encode()),
        ("12 routing information update", SAMPLE_ROUTE.encode()),
        (
            "13 data packet (a 14-byte frame)",
            Q.command(Q.DATA_IN_CONTROL, bytes.fromhex("ffffffffffff020000000a0a0806")),
        ),
        ("14 padding (3 bytes) around 0", Q.padding(Q.command(Q.START_TUNNEL), 3)),
        ("15 multiple messages: 2 and 4", Q.multiple([Q.command(Q.ACK_CRYPTO), Q.command(Q.ACK_KEY_UPDATE)])),
        ("17 tunnel options (encryption supported, virtio-net)", Q.tunnel_options(Q.OPT_ENCRYPTION | Q.OPT_VNET)),
        ("81 protocol identification", Q.protocol_id()),
    ]


def commands_table() -> str:
    rows = ["| command | message on the wire (unencrypted), hex |", "|---------|------|"]
    for what, payload in command_examples():
        rows.append(f"| {what} | `{Q.frame(payload, True).hex()}` |")
    return "\n".join(rows)


def flow_table(name: str, doc: dict[str, Any]) -> str:
    rows = ["| # | from | command | sealed | nonce | message (hex) |", "|---|------|---------|--------|-------|------|"]
    for i, m in enumerate(doc["runs"][name]["messages"], 1):
        wire = m["wire"] if len(m["wire"]) <= 64 else m["wire"][:64] + "..."
        rows.append(f"| {i} | {m['from']} | {m['command']} | {m['sealed']} | {m.get('nonce', '-')} | `{wire}` |")
    return "\n".join(rows)


def sections(doc: dict[str, Any]) -> dict[str, str]:
    out = {"commands": commands_table()}
    out.update({f"flow {n}": flow_table(n, doc) for n in RUNS})
    return out


def render(text: str, parts: dict[str, str]) -> str:
    """``text`` with every generated section between its markers replaced."""
    for name, body in parts.items():
        begin, end = f"<!-- generated: {name} -->", f"<!-- end: {name} -->"
        a, b = text.index(begin) + len(begin), text.index(end)
        text = text[:a] + "\n" + body + "\n" + text[b:]
    return text


def write_all() -> None:
    doc = published()
    FILE.write_text(json.dumps(doc, indent=1) + "\n")
    DOC.write_text(render(DOC.read_text(), sections(doc)))
    print(f"wrote {FILE} and the tables of {DOC}")


if __name__ == "__main__":
    write_all()
