"""The sans-IO core: the protocol interface, the switch, and the wire protocols behind it.

Nothing in this package touches sockets, files, the clock or threads (tests/unit/test_sansio.py
enforces it): the runtime feeds it bytes and the current time and drains what it wants sent.

    protocol.py  the interface every wire protocol implements (and the Port, Context it uses)
    switch.py    TAP <-> peers: learn, look up, flood; framing conversion per port
    node.py      the facade the runtime drives: switch + protocols
    drops.py     every drop reason (one enum) and the shared counter
    events.py    control-plane events; offload.py virtio-net headers; replay.py RFC 6479 window;
    ratelimit.py token bucket
    native/      the native Noise protocol
"""
