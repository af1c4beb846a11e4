"""Scheduled drills (DESIGN.md "Scheduling"; docs/scheduling.md).

- ``gameday.schedule.scheduler.run_scheduler``: ``gameday schedule run``, the scenarios of a
  folder run when due, one at a time, with history, ``/metrics`` and ``/healthz``;
- ``gameday.schedule.listing.list_schedule``: ``gameday schedule list``, the next run times;
- ``gameday.schedule.k8s.export_k8s``: ``gameday schedule export --k8s``, a CronJob per
  scheduled scenario;
- ``gameday.schedule.models.Blackout``: a window in which no drill starts.

Nothing is imported here: the scenario models may import ``Blackout`` from
``gameday.schedule.models`` without pulling in the engine (which imports the scenario models).
"""
