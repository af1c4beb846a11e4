"""Fault kinds and modes, and their resolution into concrete rules."""
