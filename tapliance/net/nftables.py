"""A minimal binding to libnftables' JSON API (libnftables.so.1, shipped with Debian's ``nftables``).

Why libnftables rather than pyroute2's nftables module: libnftables is the library ``nft`` itself is
built on, so a whole table (chains, rules, masquerade) is one JSON document that it compiles and commits
as one kernel transaction, and ``list table`` answers in the same JSON. pyroute2's nftables support works
at the level of raw netlink expressions (registers, payload offsets), which we would have to assemble and
parse ourselves. This is the same ctypes approach python3-nftables takes; we bind only what we use.
"""

from __future__ import annotations

import ctypes
import json
from typing import Any

from tapliance.net.errors import RUNTIME, NetError

LIBRARY = "libnftables.so.1"
NFT_CTX_DEFAULT = 0
NFT_CTX_OUTPUT_JSON = 1 << 4


class Nftables:
    """One libnftables context with buffered output; ``run`` takes and returns JSON documents."""

    def __init__(self) -> None:
        try:
            lib = ctypes.CDLL(LIBRARY)
        except OSError:
            raise NetError(f"nftables: cannot load {LIBRARY} (install the nftables package)", RUNTIME) from None
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
        lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
        self._lib = lib
        self._ctx = lib.nft_ctx_new(NFT_CTX_DEFAULT)
        lib.nft_ctx_output_set_flags(self._ctx, NFT_CTX_OUTPUT_JSON)
        lib.nft_ctx_buffer_output(self._ctx)
        lib.nft_ctx_buffer_error(self._ctx)

    def close(self) -> None:
        if self._ctx:
            self._lib.nft_ctx_free(self._ctx)
            self._ctx = None

    def run(self, doc: dict[str, Any], what: str) -> list[dict[str, Any]]:
        """Run one JSON command document (one transaction); return the listed objects, if any.

        ``what`` names the object for the error message. Raises NetError (exit 1) with nft's first error line.
        """
        rc = self._lib.nft_run_cmd_from_buffer(self._ctx, json.dumps(doc).encode())
        out = (self._lib.nft_ctx_get_output_buffer(self._ctx) or b"").decode()
        err = (self._lib.nft_ctx_get_error_buffer(self._ctx) or b"").decode().strip()
        if rc != 0:
            first = err.splitlines()[0] if err else f"libnftables returned {rc}"
            raise NetError(f"{what}: {first}", RUNTIME)
        if not out.strip():
            return []
        items: list[dict[str, Any]] = json.loads(out).get("nftables", [])
        return items

    def tables(self) -> list[tuple[str, str]]:
        """(family, name) of every table in this network namespace."""
        items = self.run({"nftables": [{"list": {"tables": None}}]}, "nftables")
        return [(i["table"]["family"], i["table"]["name"]) for i in items if "table" in i]

    def table(self, family: str, name: str) -> list[dict[str, Any]] | None:
        """The objects of one table as ``nft -j list table`` gives them, or None if it does not exist."""
        if (family, name) not in self.tables():
            return None
        return self.run(
            {"nftables": [{"list": {"table": {"family": family, "name": name}}}]}, f"nft table {family} {name}"
        )
