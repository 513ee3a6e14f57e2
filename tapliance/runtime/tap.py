"""The TAP device: open or attach, configure over netlink, read/write Ethernet frames, remove.

Created vs attached: if a device of the configured name already exists (e.g. a persistent TAP made
with ``ip tuntap add mode tap``), we attach to it and, on exit, only remove the addresses we added.
Otherwise the kernel creates a non-persistent TAP that disappears when our file descriptor closes.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import os
import struct
from pathlib import Path

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from tapliance.config import InterfaceConfig

log = logging.getLogger("tapliance.tap")

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000
IFF_MULTI_QUEUE = 0x0100
QUEUES_ENV = "TAPLIANCE_TAP_QUEUES"  # 1 (unset) or 2: a second queue with a send-only worker (runtime/worker.py)
TUNSETOFFLOAD = 0x400454D0
TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, TUN_F_TSO_ECN, TUN_F_USO4, TUN_F_USO6 = 0x01, 0x02, 0x04, 0x08, 0x20, 0x40
GSO_MAX_SIZE = 62000
GSO_MAX_SIZE_TCP = 32000  # with peers over TCP: a super-frame must fit one 15-bit QuickTun TCP message
OFFLOADS = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN


class TapError(RuntimeError):
    """One-line, user-facing TAP setup failure."""


def queues_wanted() -> int:
    """How many queues a TAP we create gets (IFF_MULTI_QUEUE): each past the first gets a worker thread that
    seals what the kernel sends out of it (runtime/worker.py). One unless asked: two measured no better in the
    bench, whose two daemons share two CPUs (docs/architecture.md, "A two-queue TAP")."""
    value = os.environ.get(QUEUES_ENV, "").strip() or "1"
    if value not in ("1", "2"):
        raise TapError(f"{QUEUES_ENV}={value!r}: must be 1 (the default) or 2")
    return int(value)


def stable_mac(public_key: bytes, ifname: str) -> str:
    """A locally administered unicast MAC derived from our public key and the interface name.

    Why: a TAP created by the kernel gets a random MAC, so after a restart the far side's ARP/ND caches
    point at a MAC that no longer exists and traffic stalls until they expire (up to a minute).
    Deriving it keeps the MAC across restarts without any state on disk.
    """
    digest = hashlib.blake2s(public_key + ifname.encode(), digest_size=5, person=b"tapl-mac").digest()
    return ":".join(f"{b:02x}" for b in (0x02, *digest))


def _enable_offloads(fd: int) -> int:
    """Ask for checksum + TSO (and UDP segmentation offload where the kernel has it, 6.2+)."""
    for extra in (TUN_F_USO4 | TUN_F_USO6, 0):
        try:
            fcntl.ioctl(fd, TUNSETOFFLOAD, OFFLOADS | extra)
            return OFFLOADS | extra
        except OSError:
            continue
    return 0


def _is_tun_device(name: str) -> bool:
    return Path(f"/sys/class/net/{name}/tun_flags").exists()


class Tap:
    def __init__(self, cfg: InterfaceConfig, mtu: int, offload: bool, gso_max: int = GSO_MAX_SIZE) -> None:
        self.cfg = cfg
        self.gso_max = gso_max
        self.mtu = mtu
        self.offload = offload  # open with IFF_VNET_HDR and ask for TSO/checksum offloads
        self.name = cfg.name
        self.fd = -1
        self.created = False
        self.vnet = False  # frames carry a virtio-net header (offloads on)
        self.offloads = 0
        self.queues = 1
        self.extra_fds: list[int] = []  # the queues past the first (IFF_MULTI_QUEUE)
        self._added_addrs: list[tuple[str, int]] = []

    def open(self) -> None:
        exists = Path(f"/sys/class/net/{self.name}").exists()
        if exists and not _is_tun_device(self.name):
            raise TapError(f"interface {self.name} exists and is not a TAP device; choose another interface.name")
        if exists and not self.cfg.create:
            log.info("attaching to existing TAP %s", self.name)
        elif not exists and not self.cfg.create:
            raise TapError(f"interface {self.name} does not exist and interface.create = false")
        try:
            fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as e:
            raise TapError(f"cannot open /dev/net/tun: {e.strerror} (needs root or CAP_NET_ADMIN)") from None
        self.queues = 1 if exists else queues_wanted()  # an existing device keeps the queue mode it was made with
        flags = (
            IFF_TAP | IFF_NO_PI | (IFF_VNET_HDR if self.offload else 0) | (IFF_MULTI_QUEUE if self.queues > 1 else 0)
        )
        try:
            fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", self.name.encode(), flags))
            for _ in range(self.queues - 1):
                q = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
                self.extra_fds.append(q)
                fcntl.ioctl(q, TUNSETIFF, struct.pack("16sH", self.name.encode(), flags))
        except OSError as e:
            for q in self.extra_fds:
                os.close(q)
            self.extra_fds = []
            os.close(fd)
            hint = " (is it a TUN device, or owned by another user / flags?)" if e.errno == errno.EINVAL else ""
            raise TapError(f"cannot attach TAP {self.name}: {e.strerror}{hint}") from None
        self.fd = fd
        self.created = not exists
        if self.offload:
            self.vnet = True
            self.offloads = _enable_offloads(fd)
        log.info(
            "%s TAP %s (offloads %s)",
            "created" if self.created else "attached to",
            self.name,
            f"0x{self.offloads:x}" if self.vnet else "off",
        )

    def single_queue(self) -> None:
        """Detach the queues past the first: the device carries on with one."""
        if self.extra_fds:
            log.info("TAP %s: one queue (%d detached: no worker reads them)", self.name, len(self.extra_fds))
        for q in self.extra_fds:
            os.close(q)
        self.extra_fds = []
        self.queues = 1

    def configure(self, default_mac: str | None = None) -> None:
        """MTU, MAC, addresses, link up. Idempotent on a pre-existing device. ``default_mac`` applies
        only to a device we created (an attached device keeps its MAC unless the config sets one)."""
        try:
            with IPRoute() as ipr:
                idx = ipr.link_lookup(ifname=self.name)[0]
                kw: dict[str, object] = {"mtu": self.mtu}
                mac = self.cfg.mac or (default_mac if self.created else None)
                if mac:
                    kw["address"] = mac
                if self.vnet:
                    # Keep TSO super-frames small enough that one sealed frame fits one UDP GSO send
                    # (65507 bytes of payload) and so arrives as one GRO batch on the far side; with
                    # peers over TCP, one QuickTun TCP message (32767 bytes).
                    kw["gso_max_size"] = self.gso_max
                ipr.link("set", index=idx, **kw)
                for a in self.cfg.addresses:
                    try:
                        ipr.addr("add", index=idx, address=str(a.ip), prefixlen=a.network.prefixlen)
                        self._added_addrs.append((str(a.ip), a.network.prefixlen))
                    except NetlinkError as e:
                        if e.code != errno.EEXIST:
                            raise
                ipr.link("set", index=idx, state="up")
        except NetlinkError as e:
            raise TapError(f"configuring {self.name}: {os.strerror(e.code)}") from None

    def close(self) -> None:
        if self.fd < 0:
            return
        if not self.created and self._added_addrs:
            try:
                with IPRoute() as ipr:
                    idx = ipr.link_lookup(ifname=self.name)[0]
                    for ip, plen in self._added_addrs:
                        ipr.addr("del", index=idx, address=ip, prefixlen=plen)
            except (NetlinkError, IndexError, OSError) as e:
                log.warning("could not remove addresses from %s: %s", self.name, e)
        self.single_queue()
        os.close(self.fd)
        self.fd = -1
        log.info("%s TAP %s", "removed" if self.created else "detached from", self.name)
