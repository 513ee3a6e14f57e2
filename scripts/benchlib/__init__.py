"""scripts/bench: tapliance side by side with kernel VXLAN, OpenVPN, tinc and fastd (issue 5).

Layout: ``lab`` (namespaces, veth, processes), ``procstat`` (/proc CPU and memory), ``measure`` (iperf3
and ping, with pure parsers), ``tunnels/`` (one module per tunnel kind: set up, report daemons, tear
down), ``stats`` and ``report`` (medians, table, ratio line, JSON), ``plot`` (PNG), ``install``
(Debian packages and matplotlib), ``cli`` (the run: rounds x tunnels, alternating).

Modules import each other relatively so the package works both as ``benchlib`` (scripts/bench puts
scripts/ on sys.path) and as ``scripts.benchlib`` (the unit tests import it from the repo root).
"""
