"""The native wire protocol: Noise IKpsk2 handshakes, per-datagram AEAD data, in-tunnel fragments.

See docs/protocol.md for the format and protocol.py for how the parts fit together.
"""
