"""What makes a hub more than several peers on one switch: address handout (leases.py)."""
