"""The egress proxy: faults for a real account's AWS calls, through ``HTTPS_PROXY``."""
