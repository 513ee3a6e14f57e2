"""The runtime: the only code that touches file descriptors, sockets and the clock."""
