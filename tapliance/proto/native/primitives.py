"""Cryptographic primitives of the handshake, as named in the Noise spec and the WireGuard paper
(section 5.4): HASH, MAC, HMAC, KDF1..3, DH, AEAD, XAEAD, TAI64N. Only library calls: BLAKE2s from
hashlib, X25519 and XChaCha20-Poly1305 from libsodium (pynacl), ChaCha20-Poly1305 from cryptography.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
    crypto_scalarmult,
    crypto_scalarmult_base,
)
from nacl.exceptions import CryptoError
from nacl.exceptions import RuntimeError as NaclRuntimeError

from tapliance.proto.native.wire import nonce96


class DecryptError(Exception):
    """Authentication failed; the caller counts a drop."""


def hash_(data: bytes) -> bytes:
    return hashlib.blake2s(data).digest()


def mac(key: bytes, data: bytes) -> bytes:
    return hashlib.blake2s(data, key=key, digest_size=16).digest()


def hmac_(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.blake2s).digest()


def kdf(key: bytes, data: bytes, n: int) -> list[bytes]:
    """HKDF with HMAC-BLAKE2s, n outputs of 32 bytes (KDF1/KDF2/KDF3)."""
    t0 = hmac_(key, data)
    out: list[bytes] = []
    prev = b""
    for i in range(1, n + 1):
        prev = hmac_(t0, prev + bytes([i]))
        out.append(prev)
    return out


def dh(private: bytes, public: bytes) -> bytes:
    """X25519. A low-order public key (all-zero result) raises DecryptError."""
    try:
        return bytes(crypto_scalarmult(private, public))
    except (CryptoError, NaclRuntimeError):
        raise DecryptError("x25519 produced the all-zero point") from None


def dh_public(private: bytes) -> bytes:
    return bytes(crypto_scalarmult_base(private))


def aead_seal(key: bytes, counter: int, plaintext: bytes, ad: bytes) -> bytes:
    return ChaCha20Poly1305(key).encrypt(nonce96(counter), plaintext, ad)


def aead_open(key: bytes, counter: int, ciphertext: bytes, ad: bytes) -> bytes:
    try:
        return ChaCha20Poly1305(key).decrypt(nonce96(counter), ciphertext, ad)
    except InvalidTag:
        raise DecryptError("handshake AEAD authentication failed") from None


def xaead_seal(key: bytes, nonce: bytes, plaintext: bytes, ad: bytes) -> bytes:
    return bytes(crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, nonce, key))


def xaead_open(key: bytes, nonce: bytes, ciphertext: bytes, ad: bytes) -> bytes:
    try:
        return bytes(crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, ad, nonce, key))
    except CryptoError:
        raise DecryptError("cookie AEAD authentication failed") from None


def tai64n(unix_time: float) -> bytes:
    """12-byte TAI64N label: big-endian seconds since 1970 + 2^62 (+10 s TAI offset), nanoseconds."""
    secs = int(unix_time)
    nanos = int((unix_time - secs) * 1e9)
    return ((1 << 62) + 10 + secs).to_bytes(8, "big") + nanos.to_bytes(4, "big")


def equal(a: bytes, b: bytes) -> bool:
    """Constant-time comparison."""
    return hmac.compare_digest(a, b)
