"""scripts/torture: the reliability and attack figures (issue 15), one command, one table.

Layout: ``lab`` (four namespaces and sockets inside them), ``tunnel`` (two real daemons), ``session`` (a
tunnel for one figure, direct or through ``relay``, the impairment relay), ``xfer`` (sha256-checked TCP
transfers), one module per figure or two (``fuzz`` with ``fuzzgen``, ``impair``, ``heal``, ``flood``,
``reasm`` with ``rogue``, ``corpus``, ``faults``), ``kernel`` (/proc readings), ``report`` (rows, table,
JSON) and ``cli`` (the run).

Modules import each other relatively so the package works both as ``torturelib`` (scripts/torture puts
scripts/ on sys.path; the relay, transfer and fault runners start as ``python -m torturelib.X`` inside
namespaces) and as ``scripts.torturelib`` (the tests import it from the repo root).
"""
