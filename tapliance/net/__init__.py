"""Host network setup for the appliance modes: L2 bridge, L3 NAT, routes (issue 3).

Contract (used by ``tapliance net`` and by the daemon after it has created the TAP):

- :func:`apply` makes the host match the plan for ``cfg.bridge`` / ``cfg.nat`` / ``cfg.routes`` and returns
  one line per change made ([] when already in sync, so a second call changes nothing). Everything that can
  be checked is checked first (:class:`NetError`, exit code 2, host untouched); if the kernel refuses a
  step half-way, what this call did is rolled back and NetError (exit code 1) is raised.
- :func:`teardown` undoes exactly what apply did, from the journal on disk (so it works after a
  ``kill -9``), and returns one line per undo step; nothing recorded is a no-op.
- :func:`show` renders planned vs actual state and a diff.

The TAP itself (name, MTU, addresses) is the daemon's: apply requires it to exist and never changes it
beyond enslaving it to the bridge in bridge mode.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tapliance.config import Config
from tapliance.net import plan as planning
from tapliance.net import preflight
from tapliance.net import show as showing
from tapliance.net.ensure import Ensure
from tapliance.net.errors import BAD_INPUT, RUNTIME, NetError
from tapliance.net.host import Host
from tapliance.net.journal import Journal, locked
from tapliance.net.nftables import Nftables
from tapliance.net.undo import Undo

__all__ = ["BAD_INPUT", "NetError", "apply", "show", "teardown"]


class _LazyNft:
    """libnftables is loaded on first use only: bridge-only setups never need it."""

    def __init__(self) -> None:
        self.nft: Nftables | None = None

    def __call__(self) -> Nftables:
        if self.nft is None:
            self.nft = Nftables()
        return self.nft


@contextmanager
def _session() -> Iterator[tuple[Host, _LazyNft]]:
    host, nft = Host(), _LazyNft()
    try:
        yield host, nft
    finally:
        host.close()
        if nft.nft is not None:
            nft.nft.close()


def apply(cfg: Config) -> list[str]:
    """Converge the host to ``cfg``'s plan; see the module docstring for the contract."""
    plan = planning.build(cfg)
    if plan.empty:
        return []
    with locked(), _session() as (host, nft):
        journal = Journal(cfg.interface.name)
        preflight.check(plan, host)
        start = len(journal.records)
        ensure = Ensure(host, nft, journal)
        try:
            return ensure.run(plan)
        except BaseException as e:
            _rollback(Undo(host, nft, journal.interface), journal, start, e)
            raise


def _rollback(undo: Undo, journal: Journal, start: int, cause: BaseException) -> None:
    try:
        _undo_from(undo, journal, start)
    except NetError as e:
        raise NetError(f"{cause}; rollback incomplete ({e}); run `tapliance net teardown`", RUNTIME) from None
    if isinstance(cause, NetError):
        cause.exit_code = RUNTIME
    elif isinstance(cause, Exception):
        raise NetError(f"apply failed and was rolled back: {cause!r}", RUNTIME) from cause


def _undo_from(undo: Undo, journal: Journal, start: int) -> list[str]:
    """Undo records newest first down to index ``start``, persisting progress after each step."""
    lines = []
    while len(journal.records) > start:
        line = undo(journal.records[-1])
        journal.truncate(len(journal.records) - 1)
        if line:
            lines.append(line)
    return lines


def teardown(cfg: Config) -> list[str]:
    """Undo everything journaled for ``cfg.interface.name``; [] when nothing is recorded."""
    with locked():
        journal = Journal(cfg.interface.name)
        if not journal.records:
            return []
        with _session() as (host, nft):
            return _undo_from(Undo(host, nft, journal.interface), journal, 0)


def show(cfg: Config) -> str:
    """Planned vs actual state for ``cfg``, with a diff when they differ."""
    plan = planning.build(cfg)
    journal = Journal(cfg.interface.name)
    with _session() as (host, nft):
        try:
            tables = nft() if plan.nat else None
        except NetError:
            tables = None
        return showing.render(plan, host, tables, journal)
