"""The fault gateway: an AWS-aware HTTP proxy that injects faults (DESIGN.md "Injectors")."""
