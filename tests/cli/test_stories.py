"""The pure function behind stories rebuild's report."""

from __future__ import annotations

from aggregator.cli.stories import rebuild_summary
from aggregator.service.upkeep import RebuildReport


def test_rebuild_summary_counts_articles_stories_and_the_skipped() -> None:
    assert rebuild_summary(RebuildReport(articles=120, stories=37, skipped=4)) == (
        "clustered 120 articles into 37 stories (4 too short to cluster)"
    )
    assert rebuild_summary(RebuildReport(articles=2, stories=1, skipped=0)) == (
        "clustered 2 articles into 1 story (0 too short to cluster)"
    )
