"""The pure function behind import opml's report."""

from __future__ import annotations

from aggregator.cli.exchange import import_lines
from aggregator.export.opml_import import ImportPlan, PlannedFeed, SkippedFeed


def test_import_lines_list_added_skipped_and_unmatched() -> None:
    plan = ImportPlan(
        added=(
            PlannedFeed("https://a.example/rss", "에이", ("economy",)),
            PlannedFeed("https://b.example/\x1b[2Jrss", None, ("economy", "society")),
        ),
        skipped=(SkippedFeed("nolink", "no xmlUrl"),),
        unmatched=("기타", "\x1b]8;;x\x07잡담"),
    )
    assert import_lines(plan, "config.yaml", dry_run=True) == [
        "would add 2 feeds to config.yaml:",
        "  + https://a.example/rss '에이' [economy]",
        "  + https://b.example/rss [economy, society]",
        "skipped 1:",
        "  - nolink: no xmlUrl",
        "folders/categories matching no configured tag (ignored): 기타, 잡담",
    ]


def test_import_lines_when_nothing_is_added() -> None:
    assert import_lines(ImportPlan(), "/etc/aggregator/config.yaml", dry_run=False) == [
        "added 0 feeds to /etc/aggregator/config.yaml"
    ]
