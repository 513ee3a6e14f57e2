"""A netlink failure while *reading* the host is one NetError line too (exit 1), as a refused change is:
never a traceback in `tapliance net` or `tapliance up`, and apply rolls back, teardown keeps its journal."""

from __future__ import annotations

from typing import Any

import pytest
from pyroute2.netlink.exceptions import NetlinkError

from tapliance.net import host as H
from tapliance.net.errors import RUNTIME, NetError


class BrokenIPRoute:
    """Every dump fails, as a netlink socket can (ENOBUFS, EINTR, a namespace going away)."""

    def __init__(self) -> None:
        pass

    def close(self) -> None:
        pass

    def _fail(self, *a: Any, **kw: Any) -> Any:
        raise NetlinkError(105, "No buffer space available")

    link_lookup = get_links = get_addr = get_routes = link = _fail


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda h: h.links(), "cannot read the links: No buffer space available"),
        (lambda h: h.link("eth0"), "eth0: cannot read the link: No buffer space available"),
        (lambda h: h.routes(), "cannot read the links: No buffer space available"),
        (lambda h: h.set_up("eth0", True), "eth0: cannot look the link up: No buffer space available"),
    ],
)
def test_failed_reads_are_one_line_net_errors(monkeypatch: pytest.MonkeyPatch, call: Any, message: str) -> None:
    monkeypatch.setattr(H, "IPRoute", BrokenIPRoute)
    with pytest.raises(NetError) as e:
        call(H.Host())
    assert str(e.value) == message and e.value.exit_code == RUNTIME


def test_failed_address_and_route_dumps_name_what_they_read(monkeypatch: pytest.MonkeyPatch) -> None:
    class OnlyLinks(BrokenIPRoute):
        def link_lookup(self, **kw: Any) -> list[int]:
            return [7]

        def get_links(self, *a: Any) -> list[Any]:
            return []

    monkeypatch.setattr(H, "IPRoute", OnlyLinks)
    h = H.Host()
    with pytest.raises(NetError, match=r"^eth0: cannot read the addresses: No buffer space available$"):
        h.addresses("eth0")
    with pytest.raises(NetError, match=r"^cannot read the routes: No buffer space available$"):
        h.routes()
