"""Peers from a ``peers.d/`` directory beside the config (or ``tunnel.peers_dir``): every ``*.toml`` there
holds ``[[peer]]`` tables only, read in file-name order after the main file's. ``tapliance peer add``
writes one file per peer there; a reload (``tapliance reload``, SIGHUP) applies what changed.

Errors name the file the peer is in and its index there, also for checks across all peers
(``PeerReader`` maps the combined index back)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from tapliance.config.reader import ConfigError, Reader

_PEER_KEY = re.compile(r"^peer\[(\d+)\]")


class PeerReader(Reader):
    """A Reader for checks over the combined peer list: ``peer[N]`` in an error becomes the file and the
    index the N-th peer has there."""

    def __init__(self, path: Path, origins: list[tuple[Path, int]]) -> None:
        super().__init__(path)
        self.origins = origins

    def where(self, n: int) -> str:
        path, i = self.origins[n]
        return f"{path} peer[{i}]"

    def error(self, key: str, msg: str) -> ConfigError:
        m = _PEER_KEY.match(key)
        if m and int(m.group(1)) < len(self.origins):
            path, i = self.origins[int(m.group(1))]
            return ConfigError(f"{path}: peer[{i}]{key[m.end() :]}: {msg}")
        return super().error(key, msg)


def peer_files(main: Path, configured: Path | None) -> list[Path]:
    d = configured if configured is not None else main.parent / "peers.d"
    if configured is None and not d.is_dir():
        return []
    try:
        return sorted(p for p in d.iterdir() if p.suffix == ".toml" and p.is_file())
    except OSError as e:
        raise ConfigError(f"{d}: cannot read the peers directory: {e.strerror or e}") from None


def read_peer_file(path: Path) -> list[dict[str, Any]]:
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: TOML syntax error: {e}") from None
    r = Reader(path)
    r.only(data, "", {"peer"})
    return r.array_of_tables(data, "peer")


def check_names(r: PeerReader, peers: tuple[Any, ...]) -> None:
    seen: dict[str, int] = {}
    for i, p in enumerate(peers):
        if p.name and p.name in seen:
            raise r.error(f"peer[{i}].name", f"duplicate: {p.name!r} is also {r.where(seen[p.name])}")
        if p.name:
            seen[p.name] = i
