"""tapliance: an encrypted Layer-2 tunnel appliance toolkit."""

__version__ = "0.1.0"
