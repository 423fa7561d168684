"""The pure functions behind check-config, poll, feeds, list and extract."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pytest_httpserver import HTTPServer

from aggregator.cli.feeds import (
    NO_ARTICLES,
    config_summary,
    extract_heading,
    extract_json,
    feeds_document,
    feeds_table,
    list_document,
    list_table,
    poll_result_line,
    poll_summary,
    status_style,
)
from aggregator.config.schema import parse_config
from aggregator.models import ExtractedArticle, FeedUpdateResult
from aggregator.store.records.reading import ArticleView, FeedHealth
from tests.cli.rendering import plain, styled

SEOUL = ZoneInfo("Asia/Seoul")
# 07:30 the next morning in Seoul.
WHEN = datetime(2026, 11, 25, 22, 30, tzinfo=UTC)

OK = FeedUpdateResult(
    "https://news.test/rss.xml", "ok", new=3, updated=1, extracted=2, linked=1, ms=1234
)
# A hostile feed URL and a two-line error body: both must reach the terminal inert.
FAILED = FeedUpdateResult(
    "https://bad.test/\x1b[2Jrss", "error", ms=50, error="HTTP 503\nService Unavailable"
)
NOT_MODIFIED = FeedUpdateResult("https://quiet.test/feed", "not_modified", ms=20)


def lines(text: str) -> list[str]:
    # Tables pad every line to their width; what matters is what is on them.
    return [line.rstrip() for line in text.splitlines()]


def test_config_summary_counts_feeds_enabled_and_tags() -> None:
    config = parse_config(
        {
            "database": "sqlite:///news.db",
            "tags": {"economy": {"keywords": ["수출"]}, "society": {"keywords": ["교통"]}},
            "feeds": [
                {"url": "https://news.test/rss.xml"},
                {"url": "https://other.test/feed", "enabled": False},
                {"url": "https://third.test/atom"},
            ],
        },
        source="config.yaml",
    )
    assert config_summary(config, "postgresql://news:***@db/news") == (
        "config OK: config.yaml: 3 feeds (2 enabled), 2 tags, "
        "database postgresql://news:***@db/news"
    )


def test_status_style_colours_the_three_outcomes_only() -> None:
    assert [status_style(s) for s in ("ok", "not_modified", "error", "never")] == [
        "green",
        "cyan",
        "red",
        "",
    ]


def test_poll_result_line_aligns_counts_and_puts_the_error_under_the_feed() -> None:
    assert plain(poll_result_line(OK), poll_result_line(FAILED), width=120) == (
        "ok           new=3   updated=1   linked=1   extracted=2      1.2s  "
        "https://news.test/rss.xml\n"
        "error        new=0   updated=0   linked=0   extracted=0      0.1s  https://bad.test/rss\n"
        "             HTTP 503 Service Unavailable\n"
    )
    assert styled(poll_result_line(FAILED)) == [
        ("error       ", "red"),
        ("\n             HTTP 503 Service Unavailable", "red"),
    ]
    assert styled(poll_result_line(NOT_MODIFIED)) == [("not_modified", "cyan")]


def test_poll_summary_totals_what_the_feeds_did() -> None:
    assert poll_summary(3, [OK, FAILED, NOT_MODIFIED]) == (
        "3 feeds: 2 ok, 1 failed; 3 new articles, 1 updated, 2 extracted"
    )
    # Interrupted before any feed was done: every feed counts as ok, nothing was stored.
    assert poll_summary(2, []) == "2 feeds: 2 ok, 0 failed; 0 new articles, 0 updated, 0 extracted"


def test_poll_says_how_many_pages_failed() -> None:
    """Articles whose page could not be fetched or extracted keep the feed's text: the feed's
    line and the summary say how many, where a user looks."""
    partly = replace(OK, extract_failed=4)
    assert poll_summary(1, [partly, partly]) == (
        "1 feeds: 1 ok, 0 failed; 6 new articles, 2 updated, 4 extracted, 8 pages failed "
        "(kept with the feed's text; each one's extract_error is in "
        "`aggregator list --json --limit N`)"
    )
    assert "pages failed=4" in plain(poll_result_line(partly), width=200)


HEALTHY = FeedHealth(
    "https://news.test/rss.xml",
    "테스트일보",
    WHEN,
    WHEN,
    "ok",
    200,
    None,
    0,
    12,
    3,
    120,
    next_check_at=datetime(2026, 11, 26, 0, 30, tzinfo=UTC),
    interval_seconds=7200,
)
NEVER = FeedHealth(
    "https://bad.test/rss", None, None, None, None, None, "HTTP 503\x1b[31m", 4, 0, 0, None
)


def test_feeds_table_shows_local_times_and_inert_errors() -> None:
    assert lines(plain(feeds_table([HEALTHY, NEVER], SEOUL))) == [
        "status  last check        entries  errors  feed",
        "ok      2026-11-26 07:30       12       0  테스트일보",
        "                                           https://news.test/rss.xml",
        "                                           next check 11-26 09:30, every 2h00m",
        "never   -                       0       4",
        "                                           https://bad.test/rss",
        "                                           next check due now",
        "                                           HTTP 503",
    ]


def test_feeds_document_keeps_every_field_and_the_configured_enabled_flag() -> None:
    document = feeds_document([HEALTHY, NEVER], {HEALTHY.url: True, NEVER.url: False})
    assert document[0] == {
        "url": "https://news.test/rss.xml",
        "title": "테스트일보",
        "enabled": True,
        "last_checked": "2026-11-25T22:30:00+00:00",
        "last_success": "2026-11-25T22:30:00+00:00",
        "status": "ok",
        "http_status": 200,
        "error_count": 0,
        "last_error": None,
        "entries": 12,
        "last_new": 3,
        "last_duration_ms": 120,
        "next_check": "2026-11-26T00:30:00+00:00",
        "interval_seconds": 7200,
    }
    assert document[1]["enabled"] is False and document[1]["next_check"] is None
    assert document[1]["last_checked"] is None and document[1]["status"] is None
    # JSON escapes control characters itself: the raw error is kept for scripts.
    assert document[1]["last_error"] == "HTTP 503\x1b[31m"


ARTICLE = ArticleView(
    7,
    "https://news.test/rss.xml",
    "테스트일보",
    "https://news.test/a/7",
    "서울시, 새 교통 정책 발표",
    "홍길동",
    WHEN,
    WHEN,
    ("society", "economy"),
    "가" * 1234,
    "trafilatura",
    "ok",
    None,
)
UNDATED = ArticleView(
    1024,
    "https://other.test/feed",
    None,
    None,
    "제목\x1b]8;;https://evil.test\x07",
    None,
    None,
    WHEN,
    (),
    "",
    "feed",
    "failed",
    "timeout",
)


def test_list_table_keeps_one_line_per_article_at_80_columns() -> None:
    """At 80 columns the title column was about 8 characters, a row 10-14 lines, and tags
    broke inside words (it-scienc / e)."""
    long = replace(ARTICLE, title="정부, 내년 경제정책 방향 확정…수출 회복과 내수 활성화 과제 담겨")
    assert lines(plain(list_table([long, UNDATED], SEOUL, 80), width=80)) == [
        "  id  published    feed        title                              tags",
        "   7  11-26 07:30  테스트일보  정부, 내년 경제정책 방향 확정…수…  society,econo…",
        "1024  11-26 07:30  https://o…  제목",
    ]


def test_list_table_at_120_columns_shows_text_size_and_source() -> None:
    assert lines(plain(list_table([ARTICLE, UNDATED], SEOUL, 120), width=120)) == [
        "  id  published         feed            title                      tags              text"
        "  source",
        "   7  2026-11-26 07:30  테스트일보      서울시, 새 교통 정책 발표  society,economy  1,234"
        "  trafilatura",
        "1024  2026-11-26 07:30  https://other…  제목                                            0"
        "  feed",
    ]


def test_list_document_has_the_full_text_and_iso_times() -> None:
    first, second = list_document([ARTICLE, UNDATED])
    assert first["text"] == "가" * 1234 and first["tags"] == ["society", "economy"]
    assert second == {
        "id": 1024,
        "feed": "https://other.test/feed",
        "feed_title": None,
        "url": None,
        "title": "제목\x1b]8;;https://evil.test\x07",
        "author": None,
        "published": None,
        "first_seen": "2026-11-25T22:30:00+00:00",
        "tags": [],
        "text": "",
        "text_source": "feed",
        "extract_status": "failed",
        "extract_error": "timeout",
    }


def test_no_articles_message_says_what_to_do() -> None:
    assert NO_ARTICLES == "no articles yet: run `aggregator poll`"


def test_no_articles_while_a_daemon_runs_says_it_is_storing() -> None:
    """`list` said "run aggregator poll" while a daemon was storing."""
    from aggregator.cli.feeds import no_articles_message
    from aggregator.store.records.service import InstanceInfo

    now = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
    live = InstanceInfo("i1", "newsbox", 4242, "1.0", now, now, None, None)
    stopped = InstanceInfo("i0", "newsbox", 4141, "1.0", now, now, None, now)
    message = no_articles_message([live], now)
    assert "a daemon is running (pid 4242 on newsbox)" in message and "status" in message
    assert no_articles_message([stopped], now) == NO_ARTICLES
    assert no_articles_message([], now) == NO_ARTICLES


EXTRACTED = ExtractedArticle(
    text="본문입니다.",
    html="<p>본문입니다.</p>",
    source="trafilatura",
    title="제목",
    author="홍길동",
    date=WHEN,
    language="ko",
)


def test_extract_json_is_indented_utf8_with_every_field() -> None:
    text = extract_json("https://news.test/a", EXTRACTED)
    assert text.startswith('{\n  "url": "https://news.test/a",\n  "title": "제목",\n')
    assert json.loads(text) == {
        "url": "https://news.test/a",
        "title": "제목",
        "author": "홍길동",
        "date": "2026-11-25T22:30:00+00:00",
        "language": "ko",
        "image": None,
        "source": "trafilatura",
        "text": "본문입니다.",
        "html": "<p>본문입니다.</p>",
    }


def test_extract_json_without_text_is_one_line() -> None:
    empty = ExtractedArticle(text="", html="", source="none", title="무시")
    assert extract_json("file:///tmp/a.html", empty) == (
        '{"url": "file:///tmp/a.html", "source": "none", "text": ""}'
    )


def test_extract_heading_title_and_meta() -> None:
    title, meta = extract_heading(EXTRACTED)
    assert plain(title, meta) == "제목\n홍길동 · 2026-11-25T22:30:00+00:00 · source: trafilatura\n"
    assert styled(title) == [("제목", "bold")] and str(meta.style) == "dim"
    bare = ExtractedArticle(text="x", html="", source="feed", title="\x1b[2J")
    assert plain(*extract_heading(bare)) == "\nsource: feed\n"
    assert plain(*extract_heading(ExtractedArticle(text="x", html="", source="feed"))) == (
        "(no title)\nsource: feed\n"
    )


def test_poll_on_a_terminal_clears_the_bar_before_each_result_line(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    """On a terminal the result lines were printed straight after the bar
    (`━━ 1/18 0:00:12ok  new=1`): the bar was drawn on stderr, the lines on stdout."""
    import os
    import pty
    import subprocess
    import sys

    import yaml

    from tests.sites import Item, rss

    feeds = []
    for n in range(3):
        httpserver.expect_request(f"/{n}.xml").respond_with_data(
            rss("테스트일보", [Item(f"g{n}", f"기사 {n}", f"https://news.test/{n}")]),
            content_type="application/rss+xml",
        )
        feeds.append({"url": httpserver.url_for(f"/{n}.xml"), "full_text": False})
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database": f"sqlite:///{tmp_path}/t.db",
                "fetch": {"allow_private_networks": True},
                "extract": {"workers": 1},
                "feeds": feeds,
            }
        ),
        encoding="utf-8",
    )
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "AGGREGATOR_DATABASE_URL")}
    env |= {"TERM": "xterm-256color", "COLUMNS": "100", "XDG_DATA_HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "aggregator", "poll", "--config", str(config)],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        close_fds=True,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert proc.wait(timeout=60) == 0
    os.close(leader)
    screen = b"".join(chunks).decode("utf-8", errors="replace")
    results = [i for i in range(len(screen)) if screen.startswith("ok ", i)]
    assert len(results) == 3, screen
    for i in results:
        # Each result line starts on a cleared line: "\r\x1b[2K" (then its colour code).
        start = screen.rfind("\r", 0, i)
        assert "\x1b[2K" in screen[start:i] and "polling" not in screen[start:i], screen[start:i]


def test_piped_feeds_never_fold_a_long_url(
    tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.clirun import run
    from tests.sites import Item, rss

    monkeypatch.delenv("AGGREGATOR_DATABASE_URL", raising=False)
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    path = "/rss/" + "section-" * 12 + "politics.xml"
    httpserver.expect_request(path).respond_with_data(
        rss("테스트일보", [Item("g1", "기사", "https://news.test/a/1")]),
        content_type="application/rss+xml",
    )
    url = httpserver.url_for(path)
    assert len(url) > 120
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database: sqlite:///{tmp_path}/t.db\nfetch: {{allow_private_networks: true}}\n"
        f"feeds:\n  - url: {url}\n    full_text: false\n",
        encoding="utf-8",
    )
    assert run("poll", "--config", str(config)).exit_code == 0
    out = run("feeds", "--config", str(config))
    assert out.exit_code == 0, out.output
    assert any(url in line for line in out.output.splitlines()), out.output
