"""A ``[[peer]]`` of a legacy suite -> its codec, key material read from disk, on a LegacyProtocol.

This is the one place where each predecessor's settings meet its codec's constructor; everything it
reads is checked first, so a bad key, nonce or pad file stops the start with one line and nothing set up.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from tapliance import config as C
from tapliance import keyfile
from tapliance.compat import keys, pads
from tapliance.proto.legacy import LegacyProtocol
from tapliance.proto.protocol import Context
from tapliance.suites import otp, otptunnel, padstore, quicktun, salty, tappet, tinytaptunnel
from tapliance.suites.codec import Codec

HostKey = Callable[[], bytes]  # the tunnel's private key, read when a suite needs it


class FilePad:
    """A pad file read where the codec asks (``pad(offset, length)``); kept open for the daemon's life."""

    def __init__(self, path: Path) -> None:
        try:
            self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            raise keyfile.KeyFileError(f"{path}: cannot open pad file: {e.strerror}") from None
        self.size = os.fstat(self.fd).st_size
        self.path = path

    def __call__(self, offset: int, length: int) -> bytes:
        return os.pread(self.fd, length, offset) if offset < self.size else b""

    def close(self) -> None:
        os.close(self.fd)


def _quicktun_secret(p: C.PeerConfig, host_key: HostKey) -> bytes:
    return keys.quicktun_private(p.private_key_file) if p.private_key_file else host_key()


def codec_for(
    p: C.PeerConfig, host_key: HostKey, random: Callable[[int], bytes], nonce_prefix: int | None = None
) -> Codec:
    """The codec of legacy peer ``p`` with its key material (raises KeyFileError, one line)."""
    now = time.time()
    if p.suite == "tinytaptunnel":
        assert p.key_file is not None
        return tinytaptunnel.TinyTapTunnel(keys.tinytaptunnel_key(p.key_file, random))
    if p.suite == "quicktun-raw":
        return quicktun.Raw()
    if p.suite in ("quicktun-nacl0", "quicktun-nacltai", "quicktun-salty"):
        assert p.public_key is not None
        secret = _quicktun_secret(p, host_key)
        if p.suite == "quicktun-nacl0":
            return quicktun.Nacl0(secret, p.public_key)
        if p.suite == "quicktun-nacltai":
            return quicktun.NaclTai(secret, p.public_key, now, p.time_window, p.quicktun_role)
        return salty.Salty(secret, p.public_key, now, random)
    if p.suite == "tappet":
        return _tappet(p, random, nonce_prefix)
    if p.suite == "otptunnel":
        assert p.pad_file is not None
        pad = FilePad(p.pad_file)
        server = bool(p.server)
        try:
            otptunnel.check_pad(pad.size, int(server), server)
        except ValueError as e:
            raise keyfile.KeyFileError(f"{p.pad_file}: {e}") from None
        return otptunnel.OtpTunnel(pad, server, accept_restart_after=p.accept_restart_after)
    if p.suite == "otp":
        return otp_codec(p)
    raise C.ConfigError(f"suite {p.suite} is not a legacy suite")


def otp_codec(p: C.PeerConfig, *, write: bool = True) -> otp.Otp:
    """The otp codec on its pad and state files (``write=False``: read and checked only)."""
    assert p.pad_file is not None and p.server is not None
    store = pads.FilePadStore(p.pad_file, server=p.server, burn=p.pad_burn, write=write)
    try:
        return otp.Otp(store, p.server, p.pad_warn)
    except padstore.PadError as e:
        store.close_fds()
        raise keyfile.KeyFileError(f"{p.pad_file}: {e}") from None


def _otp_notes(p: C.PeerConfig) -> list[str]:
    codec = otp_codec(p, write=False)
    store = codec.store
    assert isinstance(store, pads.FilePadStore)
    store.close_fds()
    side = "server, the second half" if p.server else "client, the first half"
    state = store.state_file
    return [
        f"pad {p.pad_file}: {store.size} bytes; this end ({side}) has {codec.send_left} bytes left to send, "
        f"the far end {codec.receive_left}",
        f"state file {state}" + ("" if store.existed else " does not exist: a new pad (created at start)"),
        "pad_burn: used pad is overwritten with zeros" if p.pad_burn else "pad_burn off: used pad stays on disk",
    ]


def _tappet(p: C.PeerConfig, random: Callable[[int], bytes], prefix: int | None) -> Codec:
    assert p.private_key_file is not None and p.nonce_file is not None
    secret = keys.tappet_key(p.private_key_file, secret=True)
    if p.public_key is not None:
        their = p.public_key
    else:
        assert p.public_key_file is not None
        their = keys.tappet_key(p.public_key_file, secret=False)
    server = p.server if p.server is not None else p.endpoint is None
    if prefix is None:
        prefix = keys.tappet_nonce_prefix(p.nonce_file)  # written back before the first datagram
    return tappet.Tappet(secret, their, prefix, random(12), client=not server)


def listen_address(p: C.PeerConfig) -> C.Endpoint:
    """The legacy peer's socket: its ``listen``, or an ephemeral port of the endpoint's family."""
    if p.listen is not None:
        return p.listen
    assert p.endpoint is not None
    return C.Endpoint("::" if ":" in p.endpoint.host else "0.0.0.0", 0)


def legacy_protocol(ctx: Context, p: C.PeerConfig, index: int, host_key: HostKey) -> LegacyProtocol:
    codec = codec_for(p, host_key, ctx.random)
    ep = (p.endpoint.host, p.endpoint.port) if p.endpoint else None
    name = p.name or f"{p.suite}-{index}"
    return LegacyProtocol(ctx, codec, name=name, suite=p.suite, endpoint=ep, public_key=p.public_key)


def check_codec(p: C.PeerConfig, host_key: HostKey) -> list[str]:
    """What ``check-config`` says of a legacy peer's key material, read and checked without the writes a
    start makes (a tinytaptunnel key file is not created, a tappet nonce file not incremented)."""
    notes = []
    if p.suite == "tinytaptunnel":
        assert p.key_file is not None
        if p.key_file.exists() or p.key_file.is_symlink():
            keys.tinytaptunnel_key(p.key_file, lambda n: b"")
        else:
            notes.append(f"key file {p.key_file} does not exist: it is created (mode 0600) at start")
    elif p.suite == "tappet":
        assert p.nonce_file is not None
        prefix = keys.tappet_nonce_prefix(p.nonce_file, write=False)
        notes.append(f"nonce file {p.nonce_file}: this start would use prefix {prefix}")
        codec_for(p, host_key, bytes, nonce_prefix=prefix)
    elif p.suite == "otp":
        notes += _otp_notes(p)
    else:
        codec_for(p, host_key, bytes)
    return notes
