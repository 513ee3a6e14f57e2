"""docs/protocol-tcp.md and its vectors (docs/protocol-tcp-vectors.json) against the code, and the vectors
against the document's rules alone: an independent mirror of section 3.3 (written from the document, not
from tapliance.proto.qtcp.crypto) recomputes every box, key choice and nonce of every published flow."""

from __future__ import annotations

import hashlib
import json
from collections import deque
from typing import Any

import pytest
from nacl.bindings import crypto_box_afternm, crypto_box_beforenm, crypto_scalarmult_base

from tapliance.proto.qtcp import wire as Q
from tests.unit.qtcp_vectors import DOC, FILE, RUNS, command_examples, published, render, sections

DOCUMENT = json.loads(FILE.read_text())


def test_the_published_vectors_are_what_the_code_produces() -> None:
    assert published() == DOCUMENT, "run python -m tests.unit.qtcp_vectors after a deliberate protocol change"


def test_the_documents_tables_are_generated_from_the_vectors() -> None:
    text = DOC.read_text()
    assert render(text, sections(DOCUMENT)) == text, "run python -m tests.unit.qtcp_vectors"


def test_key0_is_as_documented() -> None:
    secret = hashlib.sha256(b"QuickTun TCP key0").digest()
    assert DOCUMENT["key0"] == {"secret": secret.hex(), "public": bytes(crypto_scalarmult_base(secret)).hex()}
    assert secret.hex() in DOC.read_text() and DOCUMENT["key0"]["public"] in DOC.read_text()


@pytest.mark.parametrize(("what", "payload"), command_examples())
def test_every_command_example_parses_back(what: str, payload: bytes) -> None:
    message = Q.frame(payload, True)
    assert message[:2] == bytes([0x80 | len(payload) >> 8, len(payload) & 0xFF])
    inner = Q.unwrap(payload)
    assert [m[0] for m in inner] == (
        [2, 4] if payload[0] == Q.MULTIPLE else [0] if payload[0] == Q.PADDING else [payload[0]]
    )
    if payload[0] == Q.NETWORK_CONFIG:
        assert Q.NetworkConfig.decode(payload[1:]).encode() == payload
    if payload[0] == Q.ROUTING_UPDATE:
        assert Q.RouteUpdate.decode(payload[1:]).encode() == payload


# -- the independent mirror ------------------------------------------------------------------------------


def _unwrap(p: bytes, depth: int = 0) -> list[bytes]:
    """Section 6, as written: 14 = pad length, inner, pad; 15 = (u16 length, inner)*."""
    assert depth <= 10
    if p[0] == 14:
        return _unwrap(p[2 : len(p) - p[1]], depth + 1)
    if p[0] == 15:
        out, i = [], 1
        while i < len(p):
            n = int.from_bytes(p[i : i + 2], "big")
            out += _unwrap(p[i + 2 : i + 2 + n], depth + 1)
            i += 2 + n
        return out
    return [p]


def _keys(run: dict[str, Any]) -> tuple[dict[str, bytes], dict[str, bytes], dict[bytes, str]]:
    secrets = {"key0": bytes.fromhex(DOCUMENT["key0"]["secret"])}
    publics = {"key0": bytes.fromhex(DOCUMENT["key0"]["public"])}
    for n, k in DOCUMENT["keys"].items():
        secrets[f"key{n}"], publics[f"key{n}"] = bytes.fromhex(k["secret"]), bytes.fromhex(k["public"])
    for n, k in run["session_keys"].items():
        secrets[n], publics[n] = bytes.fromhex(k["secret"]), bytes.fromhex(k["public"])
    return secrets, publics, {v: k for k, v in publics.items()}


def _effects(cmd: bytes, st: dict[str, Any], other: dict[str, Any], name: dict[bytes, str]) -> None:
    """Section 3.3's table: what sending ``cmd`` does to the sender's direction."""
    code = cmd[0]
    if code == 1:
        st["local"], st["L"] = name[cmd[1:33]], cmd[33:57]
        st["nonce"] = (st["acked_R"] or bytes(12))[:12] + st["L"][:12]
        other["their_static"] = st["local"]
    elif code == 2:
        st["remote"], st["acked_R"] = st["their_static"], st["R"]
        st["nonce"] = st["R"][:12] + (st["L"] or bytes(12))[:12]
    elif code == 3:
        st["local"] = name[cmd[1:33]]
        other["announced"].append(st["local"])
    elif code == 4:
        st["remote"] = st["announced"].popleft()
    elif code in (7, 8):
        st["enc"], st["disabled"] = False, True
        return
    else:
        return
    if not st["disabled"]:
        st["enc"] = True
    if code == 1:
        other["R"] = st["L"]


@pytest.mark.parametrize("run", list(RUNS))
def test_every_message_recomputes_from_the_documents_rules(run: str) -> None:
    secrets, publics, name = _keys(DOCUMENT["runs"][run])
    state = {
        s: {
            "local": "key0",
            "remote": "key0",
            "enc": False,
            "disabled": False,
            "nonce": bytes(24),
            "L": None,
            "R": None,
            "acked_R": None,
            "their_static": None,
            "announced": deque(),
        }
        for s in "AB"
    }
    for m in DOCUMENT["runs"][run]["messages"]:
        st, other = state[m["from"]], state["B" if m["from"] == "A" else "A"]
        wire, plain = bytes.fromhex(m["wire"]), bytes.fromhex(m["plain"])
        head, payload = int.from_bytes(wire[:2], "big"), wire[2:]
        assert head & 0x7FFF == len(payload)
        if st["enc"]:
            assert m["sealed"] == f"{st['local']}->{st['remote']}" and m["nonce"] == st["nonce"].hex(), m
            k = crypto_box_beforenm(publics[st["remote"]], secrets[st["local"]])
            assert payload == crypto_box_afternm(plain, st["nonce"], k), m
            st["nonce"] = ((int.from_bytes(st["nonce"], "big") + 1) % (1 << 192)).to_bytes(24, "big")
        else:
            assert m["sealed"] == "clear" and payload == plain, m
        if head & 0x8000:
            for cmd in _unwrap(plain):
                _effects(cmd, st, other, name)
