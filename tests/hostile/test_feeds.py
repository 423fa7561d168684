"""Hostile feeds found under attack (issue "Nothing a feed does can stop the others"): each
polled for real over loopback into SQLite, with a well-behaved feed beside it that must be
stored all the same."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_httpserver import HTTPServer

from aggregator.config.schema import parse_config
from aggregator.errors import ConfigError
from tests.clirun import run
from tests.sites import PARAGRAPHS, Item, article_page, rss

pytestmark = pytest.mark.usefixtures("isolated_cli_env")


def _config(tmp_path: Path, feeds: list[dict[str, Any]]) -> Path:
    path = tmp_path / "config.yaml"
    data = {
        "database": f"sqlite:///{tmp_path}/t.db",
        "fetch": {"allow_private_networks": True},
        "extract": {"workers": 1},
        "feeds": feeds,
    }
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _listed(config: Path, limit: int = 1000) -> list[dict[str, Any]]:
    out = run("list", "--config", str(config), "--json", "--limit", str(limit))
    assert out.exit_code == 0, out.output
    rows: list[dict[str, Any]] = json.loads(out.stdout)
    return rows


def test_an_invalid_idna_link_costs_only_its_own_article(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    """``http://xn--a-.example/x`` made httpx raise idna's IDNAError out of fetch(): the
    whole feed failed on every poll. Now that entry is stored from the feed alone."""
    for n in (1, 2):
        httpserver.expect_request(f"/a/{n}").respond_with_data(
            article_page(f"정상 기사 {n}번 제목", PARAGRAPHS), content_type="text/html"
        )
    items = [
        Item("g1", "정상 기사 1번 제목", httpserver.url_for("/a/1")),
        Item("bad", "호스트가 잘못된 기사", "http://xn--a-.example/x"),
        Item("g2", "정상 기사 2번 제목", httpserver.url_for("/a/2")),
    ]
    httpserver.expect_request("/rss.xml").respond_with_data(
        rss("테스트일보", items), content_type="application/rss+xml"
    )
    config = _config(tmp_path, [{"url": httpserver.url_for("/rss.xml")}])
    polled = run("poll", "--config", str(config))
    assert polled.exit_code == 0, polled.output
    titles = {row["title"] for row in _listed(config)}
    assert titles == {"정상 기사 1번 제목", "호스트가 잘못된 기사", "정상 기사 2번 제목"}


def test_invalid_hosts_are_refused_where_urls_enter(tmp_path: Path) -> None:
    for url in (
        "http://xn--a-.example/rss",
        "http://bad host.example/rss",
        "http://x.example/\x07",
    ):
        with pytest.raises(ConfigError):
            parse_config({"feeds": [{"url": url}]})
    opml = tmp_path / "in.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><body>'
        '<outline type="rss" text="bad" xmlUrl="http://xn--a-.example/rss"/>'
        '<outline type="rss" text="good" xmlUrl="https://good.example/rss"/>'
        "</body></opml>",
        encoding="utf-8",
    )
    config = _config(tmp_path, [])
    out = run("import", "opml", str(opml), "--config", str(config))
    assert out.exit_code == 0, out.output
    feeds = yaml.safe_load(config.read_text(encoding="utf-8"))["feeds"]
    assert [f["url"] for f in feeds] == ["https://good.example/rss"]


@pytest.mark.parametrize("letter", ["a", "가"], ids=["latin", "hangul"])
def test_a_ten_megabyte_title_is_cut_and_logged(
    tmp_path: Path, httpserver: HTTPServer, letter: str
) -> None:
    # 10 MiB of UTF-8 (the body cap is 15 MiB).
    huge = letter * (10 * 1024 * 1024 // len(letter.encode()))
    items = [
        Item("huge", huge, "https://news.test/a/1"),
        Item("fine", "보통 제목의 기사", "https://news.test/a/2"),
    ]
    httpserver.expect_request("/rss.xml").respond_with_data(
        rss("테스트일보", items), content_type="application/rss+xml"
    )
    config = _config(tmp_path, [{"url": httpserver.url_for("/rss.xml"), "full_text": False}])
    polled = run("poll", "--config", str(config))
    assert polled.exit_code == 0, polled.output
    rows = _listed(config)
    titles = sorted((row["title"] for row in rows), key=len)
    assert titles[0] == "보통 제목의 기사"
    assert titles[1] == letter * 1000  # limits.title_chars
    assert f"title cut to 1000 characters in 1 entry (longest {len(huge):,})" in polled.output


def test_importing_ten_thousand_feeds_is_linear(tmp_path: Path) -> None:
    """``Config.feed()`` scanned every feed per imported URL: 10,000 feeds did not finish in
    20 minutes. The result is checked here; bench/hostile.py prints the time."""
    opml = tmp_path / "big.opml"
    outlines = "".join(
        f'<outline type="rss" text="Feed {i}" xmlUrl="https://news{i}.example.com/rss.xml"/>'
        for i in range(10_000)
    )
    opml.write_text(
        f'<?xml version="1.0"?><opml version="2.0"><body>{outlines}</body></opml>',
        encoding="utf-8",
    )
    config = _config(tmp_path, [])
    out = run("import", "opml", str(opml), "--config", str(config))
    assert out.exit_code == 0, out.output
    loaded = yaml.safe_load(config.read_text(encoding="utf-8"))
    assert len(loaded["feeds"]) == 10_000
    again = run("import", "opml", str(opml), "--config", str(config))
    assert again.exit_code == 0
    assert len(yaml.safe_load(config.read_text(encoding="utf-8"))["feeds"]) == 10_000


def test_a_huge_feed_is_stored_in_bounded_steps_newest_first(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    """2,500 entries with ``limits.entries_per_poll: 1000``: each poll commits the newest
    1,000 not yet stored, and the third poll has them all (a 50,000-entry feed never
    finished one all-or-nothing poll)."""
    start = datetime(2026, 11, 1, tzinfo=UTC)
    items = [
        Item(
            f"g{i}",
            f"기사 {i:04d}",
            f"https://news.test/a/{i}",
            published=start + timedelta(minutes=i),
        )
        for i in range(2_500)
    ]
    # Oldest first in the document: newest-first selection must not follow document order.
    body = rss("테스트일보", items)
    httpserver.expect_request("/rss.xml").respond_with_data(
        body, content_type="application/rss+xml", headers={"ETag": '"v1"'}
    )
    config = _config(tmp_path, [{"url": httpserver.url_for("/rss.xml"), "full_text": False}])
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["limits"] = {"entries_per_poll": 1000}
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")

    first = run("poll", "--config", str(config))
    assert first.exit_code == 0, first.output
    assert "2500 new entries; storing the newest 1000 now" in first.output
    titles = {row["title"] for row in _listed(config, 5000)}
    assert titles == {f"기사 {i:04d}" for i in range(1_500, 2_500)}
    assert run("poll", "--config", str(config)).exit_code == 0
    assert len(_listed(config, 5000)) == 2_000
    assert run("poll", "--config", str(config)).exit_code == 0
    assert len(_listed(config, 5000)) == 2_500
    # Nothing left: the next poll stores nothing and says nothing of deferring.
    last = run("poll", "--config", str(config))
    assert "storing the newest" not in last.output
    assert len(_listed(config, 5000)) == 2_500


def test_lone_surrogates_in_a_json_feed_cost_nothing(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    """A JSON Feed may escape lone surrogates ("\\ud800"); json.loads passes them on and no
    encoder takes them: the tagger's features raised UnicodeEncodeError and the whole feed
    failed on every poll. Found by tests/hostile/test_properties.py's URL property."""
    body = (
        '{"version": "https://jsonfeed.org/version/1.1", "title": "t \\ud800", "items": ['
        '{"id": "1", "url": "https://news.test/a/\\ud800x", "title": "bad \\udfff title",'
        ' "content_text": "text \\ud800 here", "tags": ["\\ud800"]},'
        '{"id": "2", "url": "https://news.test/a/2", "title": "good title",'
        ' "content_text": "fine"}]}'
    )
    httpserver.expect_request("/feed.json").respond_with_data(
        body, content_type="application/feed+json"
    )
    config = _config(tmp_path, [{"url": httpserver.url_for("/feed.json"), "full_text": False}])
    polled = run("poll", "--config", str(config))
    assert polled.exit_code == 0, polled.output
    titles = sorted(row["title"] for row in _listed(config))
    assert titles == ["bad \ufffd title", "good title"]
