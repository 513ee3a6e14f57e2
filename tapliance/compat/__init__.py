"""The predecessors on tapliance: their key material from disk, their peers built, their command lines imported."""
