"""The demo service: a small real web service that uses AWS the way production services do.

Each resilience feature (credential cache, audit-log spool, image cache, region failover) is
switchable, so the shipped drills show passes and misses for honest reasons. The drill engine
starts it as ``python -m gameday.demo --listen 127.0.0.1:0 --port-file PATH`` with its
configuration in ``GAMEDAY_DEMO_*`` environment variables (see ``gameday.demo.config``).
"""
