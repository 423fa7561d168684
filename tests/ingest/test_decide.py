from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aggregator.ingest.decide import PlannedEntry, take_newest
from aggregator.models import ParsedEntry


def _planned(i: int, *, changed: bool = False, dated: bool = True) -> PlannedEntry:
    when = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(hours=i) if dated else None
    entry = ParsedEntry(key=f"k{i}", guid=f"k{i}", link=None, title=f"t{i}", published=when)
    return PlannedEntry(entry, f"k{i}", f"u{i}", "h", changed)


def test_take_newest_keeps_edits_and_the_newest_new_entries_in_document_order() -> None:
    planned = [_planned(0), _planned(5), _planned(1, changed=True), _planned(9), _planned(3)]
    kept, deferred = take_newest(planned, 2)
    assert [p.key for p in kept] == ["k5", "k1", "k9"]  # document order; k1 is an edit
    assert deferred == 2


def test_take_newest_puts_undated_entries_last_and_keeps_all_under_the_limit() -> None:
    planned = [_planned(0, dated=False), _planned(1), _planned(2)]
    assert take_newest(planned, 2) == ([planned[1], planned[2]], 1)
    assert take_newest(planned, 3) == (planned, 0)
