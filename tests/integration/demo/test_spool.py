"""The audit backlogs on a real filesystem: the spool keeps what failed, the buffer drops it."""

from __future__ import annotations

from pathlib import Path

from gameday.demo.audit import MAX_BATCH_EVENTS, AuditEvent, MemoryBacklog, SpoolBacklog


def _events(first: int, count: int) -> list[AuditEvent]:
    return [AuditEvent(1_700_000_000_000 + n, f"audit marker=m{n}") for n in range(first, count)]


def test_the_spool_keeps_a_failed_batch_and_drops_a_shipped_one(tmp_path: Path) -> None:
    spool = SpoolBacklog(tmp_path / "audit.spool")
    for event in _events(0, 3):
        spool.add(event)

    first = spool.batch()
    lost = spool.failed(len(first))
    again = spool.batch()
    spool.shipped(len(again))

    assert first == again == _events(0, 3)
    assert lost == 0
    assert len(spool) == 0
    assert spool.batch() == []
    assert spool.path.stat().st_size == 0  # drained: truncated, not left to grow
    spool.close()


def test_the_spool_compacts_its_shipped_head_under_steady_traffic(tmp_path: Path) -> None:
    spool = SpoolBacklog(tmp_path / "audit.spool", compact_bytes=100)
    for event in _events(0, 10):
        spool.add(event)
    batch = spool.batch()
    for event in _events(10, 15):  # written while the batch was on its way
        spool.add(event)

    spool.shipped(len(batch))

    assert spool.batch() == _events(10, 15)
    assert len(spool) == 5
    assert spool.path.read_text().count("\n") == 5
    spool.add(_events(15, 16)[0])
    assert spool.batch() == _events(10, 16)
    spool.close()


def test_a_batch_stays_within_put_log_events_limits(tmp_path: Path) -> None:
    spool = SpoolBacklog(tmp_path / "audit.spool")
    for event in _events(0, MAX_BATCH_EVENTS + 1):
        spool.add(event)

    first = spool.batch()
    spool.shipped(len(first))

    assert len(first) == MAX_BATCH_EVENTS
    assert spool.batch() == _events(MAX_BATCH_EVENTS, MAX_BATCH_EVENTS + 1)
    spool.close()


def test_the_naive_buffer_drops_a_failed_batch() -> None:
    buffer = MemoryBacklog()
    for event in _events(0, 3):
        buffer.add(event)

    lost = buffer.failed(len(buffer.batch()))

    assert lost == 3
    assert len(buffer) == 0
