"""The sans-IO protocol core: wire formats, handshake, sessions, replay window, fragments, timers.

Nothing in this package touches sockets, files, the clock or threads (tests/unit/test_sansio.py
enforces it): the runtime feeds it bytes and the current time and drains what it wants sent.
"""
