"""docs/protocol.md checked by a second implementation written from it (independent_peer.py).

Every test recomputes or decrypts a message of docs/protocol-vectors.json with the independent
peer only; nothing here imports tapliance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.unit.independent_peer import (
    CAP_VNET,
    FLAG_VNET,
    MAX_FRAME,
    SUITE_CHACHA20_POLY1305,
    VNET_HDR_SIZE,
    ConsumedInitiation,
    DataHeader,
    InitiatorState,
    Keypair,
    ProtocolError,
    Reassembler,
    StaticIdentity,
    VectorRandom,
    VirtioNetHeader,
    consume_initiation,
    consume_response,
    cookie_key,
    create_cookie_reply,
    create_initiation,
    create_response,
    layout,
    load_vectors,
    make_cookie,
    max_chunk,
    open_cookie_reply,
    open_data,
    seal_frame,
    strip_vnet,
    tai64n,
    verify_mac1,
    verify_mac2,
)

DOCS = Path(__file__).resolve().parents[2] / "docs"
VECTORS: dict[str, Any] = load_vectors(DOCS / "protocol-vectors.json")
INPUTS: dict[str, Any] = VECTORS["inputs"]
MSG: dict[str, bytes] = {k: bytes.fromhex(v) for k, v in VECTORS["messages"].items()}
FRAMES: dict[str, bytes] = {k: bytes.fromhex(v) for k, v in VECTORS["frames"].items()}

A = StaticIdentity(bytes.fromhex(INPUTS["a_private"]))
B = StaticIdentity(bytes.fromhex(INPUTS["b_private"]))
A_DRAWS = [bytes.fromhex(d) for d in INPUTS["plain_pair_random_draws"]["a"]]
B_DRAWS = [bytes.fromhex(d) for d in INPUTS["plain_pair_random_draws"]["b"]]
START = INPUTS["unix_offset"] + INPUTS["monotonic_start"]  # TAI64N(1700001000.0)
# Found by search (Findings F6): the only clock at which A's retransmitted initiation, rebuilt
# from A's draws 4 and 5, has a mac1 under which cookie_reply decrypts.
RETRANSMIT_TIME = START + 5.5
MAC2_TIME = START + 11.0  # decrypted from initiation_with_mac2 (Findings F7)


@dataclass
class Run:
    """One handshake between A (initiator) and B (responder) and the keys it gives."""

    a_state: InitiatorState
    consumed: ConsumedInitiation
    response: bytes
    a_keys: Keypair
    b_keys: Keypair
    response_caps: int


def handshake(caps: int) -> Run:
    """A initiates with the plain pair's draws, B answers with its draws."""
    a_state = create_initiation(A, B.public, A_DRAWS[0], A_DRAWS[1], START, caps=caps)
    consumed = consume_initiation(B, a_state.message)
    response, b_keys = create_response(consumed, B_DRAWS[0], B_DRAWS[1], caps=caps)
    response_caps, a_keys = consume_response(A, a_state, response)
    return Run(a_state, consumed, response, a_keys, b_keys, response_caps)


@pytest.fixture(scope="module")
def plain() -> Run:
    """The plain pair (caps 0)."""
    return handshake(0)


@pytest.fixture(scope="module")
def offload() -> Run:
    """The offload pair (caps 1)."""
    return handshake(CAP_VNET)


def receiver(run: Run) -> Keypair:
    """B's keypair, with the receive counter state untouched."""
    return run.b_keys


# --- Step 0: the document's own example and the vectors' randomness --------------------------


def test_document_example_is_the_vector() -> None:
    text = (DOCS / "protocol.md").read_text(encoding="utf-8")
    block = text.split("The initiation, for a first check", 1)[1].split("```", 2)[1]
    assert bytes.fromhex(re.sub(r"\s", "", block)) == MSG["initiation"]


def test_static_keys() -> None:
    assert A.public.hex() == INPUTS["a_public"]
    assert B.public.hex() == INPUTS["b_public"]


def test_randomness_is_one_block_per_draw() -> None:
    """F1: draw i = SHA-256(b'rng-X' || le64(i))[:n]; draw 0 is not listed."""
    rng_a, rng_b = VectorRandom("a"), VectorRandom("b")
    rng_a.draw(32)
    rng_b.draw(32)
    assert [rng_a.draw(4), rng_a.draw(32), rng_a.draw(1)] == A_DRAWS
    assert [rng_b.draw(4), rng_b.draw(32)] == B_DRAWS


# --- Step 1: the initiation ----------------------------------------------------------------


def test_initiation_byte_for_byte(plain: Run) -> None:
    assert plain.a_state.message == MSG["initiation"]
    assert MSG["initiation"][:4] == bytes([1, SUITE_CHACHA20_POLY1305, 0, 0])
    assert MSG["initiation"][132:] == bytes(16)  # no cookie held: mac2 = zeros


@pytest.mark.parametrize(
    ("name", "receiver_is_b"),
    [
        ("initiation", True),
        ("response", False),
        ("initiation_offload", True),
        ("response_offload", False),
        ("initiation_with_mac2", True),
    ],
)
def test_mac1_of_every_handshake_message(name: str, receiver_is_b: bool) -> None:
    msg = MSG[name]
    to, other = (B, A) if receiver_is_b else (A, B)
    assert verify_mac1(msg, to.public)
    assert not verify_mac1(msg, other.public)
    flipped = bytes([msg[0], msg[1] ^ 0x80]) + msg[2:]
    assert not verify_mac1(flipped, to.public)


# --- Step 2: B consumes the initiation and answers -----------------------------------------


def test_responder_decrypts_static_and_timestamp(plain: Run) -> None:
    consumed = consume_initiation(B, MSG["initiation"])
    assert consumed.initiator_static == A.public
    assert consumed.timestamp == tai64n(1700001000.0)
    assert consumed.timestamp.hex() == "400000006553f4f200000000"
    assert consumed.initiator_index == A_DRAWS[0]
    assert (consumed.caps, consumed.suite) == (0, SUITE_CHACHA20_POLY1305)


def test_responder_drops(plain: Run) -> None:
    msg = MSG["initiation"]
    with pytest.raises(ProtocolError, match="bad_length"):
        consume_initiation(B, msg[:-1])
    with pytest.raises(ProtocolError, match="bad_mac1"):
        consume_initiation(A, msg)
    with pytest.raises(ProtocolError, match="suite_mismatch"):
        consume_initiation(B, msg, suite=2)


def test_response_byte_for_byte(plain: Run) -> None:
    assert plain.response == MSG["response"]
    assert MSG["response"][8:12] == A_DRAWS[0]  # receiver I_i
    assert MSG["response"][4:8] == B_DRAWS[0]  # sender I_r
    assert MSG["response"][76:] == bytes(16)


# --- Step 3: transport keys and data --------------------------------------------------------


def test_transport_keys_agree(plain: Run) -> None:
    assert plain.a_keys.send == plain.b_keys.recv
    assert plain.a_keys.recv == plain.b_keys.send
    assert plain.a_keys.send != plain.a_keys.recv


def check_header(header: DataHeader, *, flags: int, index: int, count: int, counter: int) -> None:
    """The header fields a datagram A sent to B must carry."""
    assert header.flags == flags
    assert (header.frag_index, header.frag_count) == (index, count)
    assert header.receiver_index == B_DRAWS[0]  # F2: the receiver's own index (B's I_r)
    assert header.counter == counter


def test_data_one_datagram(plain: Run) -> None:
    header, frame = open_data(receiver(plain), MSG["data_one_datagram"])
    check_header(header, flags=0, index=0, count=1, counter=0)
    assert frame == FRAMES["small"]
    assert len(MSG["data_one_datagram"]) == 32 + len(frame)


def test_data_one_datagram_resealed(plain: Run) -> None:
    keys = Keypair(plain.a_keys.send, plain.a_keys.recv, A_DRAWS[0], B_DRAWS[0])
    assert seal_frame(keys, FRAMES["small"]) == [MSG["data_one_datagram"]]


FRAGMENTS = ["data_fragment_0", "data_fragment_1", "data_fragment_2"]


def test_fragments_headers_and_layout(plain: Run) -> None:
    spans = layout(len(FRAMES["fragmented"]), max_chunk(INPUTS["underlay_mtu"]))
    assert [end - start for start, end in spans] == [1029, 1029, 1028]
    for i, name in enumerate(FRAGMENTS):
        header, chunk = open_data(receiver(plain), MSG[name])
        check_header(header, flags=0, index=i, count=3, counter=1 + i)
        start, end = spans[i]
        assert chunk == FRAMES["fragmented"][start:end]


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 0, 1), (2, 1, 0)])
def test_fragments_reassemble_in_any_order(plain: Run, order: tuple[int, int, int]) -> None:
    reassembler = Reassembler()
    results = []
    for i in order:
        header, chunk = open_data(receiver(plain), MSG[FRAGMENTS[i]])
        results.append(reassembler.add(header, chunk))
    assert results[:2] == [None, None]
    assert results[2] == FRAMES["fragmented"]
    assert len(FRAMES["fragmented"]) == 3086


def test_fragments_resealed(plain: Run) -> None:
    keys = Keypair(plain.a_keys.send, plain.a_keys.recv, A_DRAWS[0], B_DRAWS[0])
    keys.send_counter = 1
    assert seal_frame(keys, FRAMES["fragmented"]) == [MSG[n] for n in FRAGMENTS]


def test_reassembly_rules(plain: Run) -> None:
    h0, c0 = open_data(receiver(plain), MSG["data_fragment_0"])
    reassembler = Reassembler()
    assert reassembler.add(h0, c0) is None
    with pytest.raises(ProtocolError, match="frag_duplicate"):
        reassembler.add(h0, c0)
    h1, c1 = open_data(receiver(plain), MSG["data_fragment_1"])
    liar = DataHeader(h1.flags, h1.frag_index, 4, h1.receiver_index, h1.counter)
    with pytest.raises(ProtocolError, match="frag_inconsistent"):
        reassembler.add(liar, c1)
    big = DataHeader(0, 0, 2, B_DRAWS[0], 100)
    with pytest.raises(ProtocolError, match="frag_oversize"):
        reassembler.add(big, bytes(MAX_FRAME + 1))


def test_keepalive(plain: Run) -> None:
    assert len(MSG["keepalive"]) == 32
    header, chunk = open_data(receiver(plain), MSG["keepalive"])
    check_header(header, flags=0, index=0, count=1, counter=4)
    assert chunk == b""


def test_data_header_drops(plain: Run) -> None:
    msg = MSG["data_one_datagram"]
    with pytest.raises(ProtocolError, match="bad_header"):
        open_data(receiver(plain), msg[:1] + b"\x02" + msg[2:])
    with pytest.raises(ProtocolError, match="bad_header"):
        open_data(receiver(plain), msg[:2] + b"\x01\x01" + msg[4:])
    with pytest.raises(ProtocolError, match="decrypt"):  # the header is authenticated
        open_data(receiver(plain), msg[:8] + b"\x07" + msg[9:])
    with pytest.raises(ProtocolError, match="short"):
        open_data(receiver(plain), msg[:31])


@pytest.mark.parametrize(
    ("length", "sizes"),
    [
        (1514, [757, 757]),
        (1524, [762, 762]),
        (7043, [1409, 1409, 1409, 1409, 1407]),
        (0, [0]),
    ],
)
def test_sender_rule_examples_of_the_document(length: int, sizes: list[int]) -> None:
    assert max_chunk(1500) == 1440
    assert [end - start for start, end in layout(length, 1440)] == sizes


# --- Step 3/4: the offload pair ------------------------------------------------------------


def test_offload_handshake_and_caps(offload: Run, plain: Run) -> None:
    assert offload.a_state.message == MSG["initiation_offload"]
    assert offload.response == MSG["response_offload"]
    assert MSG["initiation_offload"][2] == CAP_VNET
    assert MSG["response_offload"][1] == CAP_VNET
    assert offload.consumed.caps == CAP_VNET
    assert offload.response_caps == CAP_VNET
    # caps is outside the handshake hash: only the caps byte and mac1 differ (F10).
    diff_i = [i for i, (x, y) in enumerate(zip(MSG["initiation"], MSG["initiation_offload"], strict=True)) if x != y]
    assert diff_i[0] == 2 and all(116 <= i < 132 for i in diff_i[1:])
    diff_r = [i for i, (x, y) in enumerate(zip(MSG["response"], MSG["response_offload"], strict=True)) if x != y]
    assert diff_r[0] == 1 and all(60 <= i < 76 for i in diff_r[1:])
    assert offload.b_keys.recv == plain.b_keys.recv


def test_data_queued_before_caps_is_plain(offload: Run) -> None:
    header, frame = open_data(receiver(offload), MSG["data_queued_before_caps"])
    check_header(header, flags=0, index=0, count=1, counter=0)
    assert frame == FRAMES["vnet"][VNET_HDR_SIZE:]  # F9: the vnet frame, header removed


def test_data_vnet(offload: Run) -> None:
    header, frame = open_data(receiver(offload), MSG["data_vnet"])
    check_header(header, flags=FLAG_VNET, index=0, count=1, counter=1)
    vnet, ethernet = strip_vnet(Reassembler().add(header, frame) or b"", header.flags)
    assert frame == FRAMES["vnet"]  # F9: frames.vnet includes the 10-byte header
    assert vnet is not None
    assert VirtioNetHeader.unpack(vnet) == VirtioNetHeader(0, 0, 0, 0, 0, 0)
    assert ethernet == FRAMES["vnet"][VNET_HDR_SIZE:]
    keys = Keypair(offload.a_keys.send, offload.a_keys.recv, A_DRAWS[0], B_DRAWS[0])
    keys.send_counter = 1
    assert seal_frame(keys, FRAMES["vnet"], flags=FLAG_VNET) == [MSG["data_vnet"]]


# --- Step 4: the cookie pair ---------------------------------------------------------------


def retransmitted_initiation() -> bytes:
    """A's retransmission answered by cookie_reply: draws 4, 5 (F6), clock START + 5.5 s."""
    rng = VectorRandom("a")
    state = create_initiation(A, B.public, rng.block(4)[:4], rng.block(5), RETRANSMIT_TIME)
    return state.message


def test_cookie_reply_decrypts_with_documented_key_and_ad() -> None:
    reply = MSG["cookie_reply"]
    answered = retransmitted_initiation()
    assert reply[:4] == bytes([3, 0, 0, 0])
    assert reply[4:8] == answered[4:8]  # receiver index = sender index of the message answered
    cookie = open_cookie_reply(reply, B.public, answered[116:132])
    assert len(cookie) == 16
    with pytest.raises(ProtocolError, match="cookie_decrypt"):
        open_cookie_reply(reply, A.public, answered[116:132])  # key of the wrong side
    with pytest.raises(ProtocolError, match="cookie_decrypt"):
        open_cookie_reply(reply, B.public, MSG["initiation_with_mac2"][116:132])
    assert cookie_key(B.public) != cookie_key(A.public)


def test_initiation_with_mac2() -> None:
    answered = retransmitted_initiation()
    cookie = open_cookie_reply(MSG["cookie_reply"], B.public, answered[116:132])
    msg = MSG["initiation_with_mac2"]
    assert verify_mac1(msg, B.public)
    assert verify_mac2(msg, cookie)
    assert not verify_mac2(msg, bytes(16))
    consumed = consume_initiation(B, msg)
    assert consumed.initiator_static == A.public
    assert consumed.timestamp == tai64n(MAC2_TIME)
    assert consumed.initiator_index != MSG["cookie_reply"][4:8]  # a fresh initiation (F7)


def test_cookie_pair_rebuilt_from_the_draws() -> None:
    """Beyond the document: tapliance's cookie and the whole pair, byte for byte (F1, F8)."""
    rng_a, rng_b = VectorRandom("a"), VectorRandom("b")
    answered = retransmitted_initiation()
    cookie = make_cookie(rng_b.block(0), INPUTS["a_addr"][0], INPUTS["a_addr"][1])
    reply = create_cookie_reply(B, answered, rng_b.block(3)[:24], cookie)
    assert reply == MSG["cookie_reply"]
    state = create_initiation(A, B.public, rng_a.block(7)[:4], rng_a.block(8), MAC2_TIME, cookie=cookie)
    assert state.message == MSG["initiation_with_mac2"]
