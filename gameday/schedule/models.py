"""Blackout windows live with the scenario format (``gameday.scenario.schedule_models``), since
a scenario's ``schedule:`` block holds them; the scheduler names them from here."""

from __future__ import annotations

from gameday.scenario.schedule_models import Blackout, Moment, check_cron

__all__ = ["Blackout", "Moment", "check_cron"]
