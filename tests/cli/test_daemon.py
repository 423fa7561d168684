"""The pure functions behind status, prune and db upgrade."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from aggregator.cli.daemon import (
    StatusReport,
    prune_lines,
    status_document,
    status_lines,
    upgrade_message,
)
from aggregator.service.upkeep import PruneReport
from aggregator.store.records.service import ALIVE_SECONDS, FailingFeed, InstanceInfo
from tests.cli.rendering import plain, styled

NOW = datetime(2026, 11, 25, 22, 30, tzinfo=UTC)

LIVE = InstanceInfo(
    "a1",
    "news-1",
    4242,
    "0.1.0",
    NOW - timedelta(hours=3),
    NOW - timedelta(seconds=5),
    NOW - timedelta(minutes=4),
    None,
)
# Its heartbeat is older than ALIVE_SECONDS: it died without saying so.
SILENT = InstanceInfo(
    "b2",
    "news-2",
    77,
    "0.0.9",
    NOW - timedelta(days=1),
    NOW - timedelta(seconds=ALIVE_SECONDS + 1),
    NOW - timedelta(minutes=11),
    None,
)
# A fresh heartbeat, but it stopped cleanly.
STOPPED = InstanceInfo(
    "c3",
    "news-3",
    78,
    "0.1.0",
    NOW - timedelta(hours=2),
    NOW - timedelta(seconds=1),
    None,
    NOW - timedelta(seconds=1),
)


def failing(count: int) -> list[FailingFeed]:
    return [
        FailingFeed(
            url=f"https://f{i}.test/rss",
            title=f"피드{i}" if i else None,
            error_count=i + 1,
            last_error="HTTP 503\x1b[2J" if i == 0 else None,
            last_checked_at=NOW - timedelta(minutes=1),
            next_check_at=NOW + timedelta(minutes=30 * (i + 1)),
            gone=i == 1,
        )
        for i in range(count)
    ]


def report(instances: list[InstanceInfo], failing_feeds: list[FailingFeed]) -> StatusReport:
    return StatusReport(
        now=NOW,
        instances=instances,
        feeds_due=5,
        failing=failing_feeds,
        counts={"feeds": 40, "articles": 12345},
        database_bytes=3 * 1_048_576,
    )


def test_upgrade_message_names_both_revisions_or_says_up_to_date() -> None:
    url = "postgresql://news:***@db/news"
    assert upgrade_message(url, "0006", "0006") == (
        "database postgresql://news:***@db/news is up to date (revision 0006)"
    )
    assert upgrade_message(url, None, "0006") == (
        "database postgresql://news:***@db/news upgraded from empty to 0006"
    )
    assert upgrade_message(url, "0004", "0006") == (
        "database postgresql://news:***@db/news upgraded from 0004 to 0006"
    )


def test_only_running_instances_with_a_recent_heartbeat_are_alive() -> None:
    status = report([LIVE, SILENT, STOPPED], [])
    assert status.alive == [LIVE]
    assert status.last_cycle == LIVE.last_cycle_at
    assert report([STOPPED], []).last_cycle is None


def test_status_lines_alive_daemon_totals_and_failing_feeds() -> None:
    lines = status_lines(report([LIVE, SILENT], failing(2)))
    assert plain(*lines, width=100) == (
        "daemon alive: news-1 pid 4242 (v0.1.0), heartbeat 5s ago, last cycle 4m ago\n"
        "feeds: 40 known, 5 due now, 2 failing; articles: 12,345; database: 3.0 MiB\n"
        "  failing ×1 https://f0.test/rss  next retry in 30m\n"
        "      HTTP 503\n"
        "  gone ×2 피드1  next retry in 60m\n"
    )
    assert styled(lines[0])[0][1] == "green"
    assert styled(lines[3]) == [
        ("  gone ×2 피드1  next retry in 60m", "red"),
        ("  next retry in 60m", "dim"),
    ]


def test_status_lines_without_a_daemon_and_without_a_size() -> None:
    status = StatusReport(NOW, [STOPPED], 0, [], {"feeds": 0, "articles": 0}, None)
    lines = status_lines(status)
    assert plain(*lines) == (
        "no daemon alive (start one with `aggregator run`)\n"
        "feeds: 0 known, 0 due now, 0 failing; articles: 0; database: size unknown\n"
    )
    assert str(lines[0].style) == "yellow"


def test_status_lines_list_twenty_failing_feeds_then_count_the_rest() -> None:
    text = plain(*status_lines(report([], failing(23))), width=100)
    assert text.count("next retry") == 20
    assert "피드19  next retry" in text and "피드20" not in text
    assert text.endswith("  … and 3 more (see `aggregator feeds`)\n")


def test_status_document() -> None:
    document = status_document(report([LIVE, SILENT, STOPPED], failing(1)))
    assert document["daemon_alive"] is True
    assert [i["alive"] for i in document["instances"]] == [True, False, False]
    assert document["instances"][2] == {
        "id": "c3",
        "hostname": "news-3",
        "pid": 78,
        "version": "0.1.0",
        "alive": False,
        "started": "2026-11-25T20:30:00+00:00",
        "heartbeat": "2026-11-25T22:29:59+00:00",
        "last_cycle": None,
        "stopped": "2026-11-25T22:29:59+00:00",
    }
    assert document["last_cycle"] == "2026-11-25T22:26:00+00:00"
    assert document["failing_feeds"] == [
        {
            "url": "https://f0.test/rss",
            "title": None,
            "error_count": 1,
            "last_error": "HTTP 503\x1b[2J",
            "last_checked": "2026-11-25T22:29:00+00:00",
            "next_retry": "2026-11-25T23:00:00+00:00",
            "gone": False,
        }
    ]
    assert document["feeds_due"] == 5
    assert document["counts"] == {"feeds": 40, "articles": 12345}
    assert document["database_bytes"] == 3_145_728
    assert json.loads(json.dumps(document)) == document  # serializable as it is


def test_status_document_without_instances() -> None:
    document = status_document(StatusReport(NOW, [], 0, [], {}, None))
    assert document == {
        "daemon_alive": False,
        "instances": [],
        "last_cycle": None,
        "feeds_due": 0,
        "failing_feeds": [],
        "counts": {},
        "database_bytes": None,
    }


def test_prune_lines_largest_feed_first_urls_made_inert() -> None:
    pruned = PruneReport(5, {"https://a.test/\x1b[2J": 2, "https://b.test/rss": 3})
    assert prune_lines(pruned, dry_run=True) == [
        "would prune 5 articles",
        "       3  https://b.test/rss",
        "       2  https://a.test/",
    ]
    assert prune_lines(PruneReport(0), dry_run=False) == ["pruned 0 articles"]


def test_status_lines_keep_a_feed_s_url_and_its_error_whole() -> None:
    """URLs are what one greps for: never shortened; an error is shown up to ERROR_SHOWN."""
    from aggregator.cli.daemon import ERROR_SHOWN

    url = "https://news.example/" + "section/" * 15 + "rss.xml"
    error = "could not resolve host 'news.example': [Errno -2] Name or service not known " * 3
    feed = replace(failing(1)[0], url=url, title=None, last_error=error)
    text = plain(*status_lines(report([], [feed])), width=1000)
    assert url in text
    assert " ".join(error.split()) in text and len(error) < ERROR_SHOWN
