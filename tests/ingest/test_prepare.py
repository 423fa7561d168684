"""Parsing and tagging in worker processes: the same articles and tags as in-process, and a
document that hangs or kills its worker fails alone."""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_httpserver import HTTPServer

from aggregator.config.schema import Config, FeedConfig, parse_config
from aggregator.errors import Interrupted
from aggregator.ingest import pipeline
from aggregator.ingest.pipeline import poll_feeds
from aggregator.ingest.prepare import PreparePool, PrepareUnavailable, prepare_in_worker
from aggregator.models import FieldLimits
from aggregator.service.runtime import PREPARE_MIN_FEEDS, open_services, prepare_workers_for
from tests.conftest import REPO_ROOT
from tests.sites import items, rss


def shipped_config(
    database: str, urls: list[str], concurrency: int = 4, per_poll: int = 1_000
) -> Config:
    """config.yaml's tags, rules and model, with these feeds (no full text; the first with a
    feed tag) and database."""
    data = yaml.safe_load((REPO_ROOT / "config.yaml").read_text(encoding="utf-8"))
    data["database"] = database
    data["limits"] = {**data.get("limits", {}), "entries_per_poll": per_poll}
    data["fetch"] = {
        **data.get("fetch", {}),
        "allow_private_networks": True,
        "timeout": 10,
        "concurrency": concurrency,
    }
    data["feeds"] = [{"url": url, "full_text": False} for url in urls]
    data["feeds"][0]["tags"] = ["economy"]
    return parse_config(data)


def stored(database: Path) -> list[tuple[Any, ...]]:
    """Every article with its tags, its search index row, its story print and the articles
    of its story, in an order independent of which feed came first."""
    conn = sqlite3.connect(database)
    try:
        articles = conn.execute(
            "SELECT a.id, a.url, a.title, a.summary, a.text, a.html, a.text_source, a.language,"
            " a.content_hash, f.title, f.body FROM articles a"
            " LEFT JOIN article_fts f ON f.rowid = a.id"
        ).fetchall()
        tags: dict[int, list[tuple[Any, ...]]] = {}
        for article_id, *tag in conn.execute(
            "SELECT article_id, tag, source, score, detail FROM article_tags"
        ):
            tags.setdefault(article_id, []).append(tuple(tag))
        prints = {
            article_id: tuple(print_)
            for article_id, *print_ in conn.execute(
                "SELECT article_id, hex(signature), size, title_key, language, seen_at"
                " FROM story_articles"
            )
        }
        bands: dict[int, set[int]] = {}
        for article_id, band in conn.execute("SELECT article_id, band_hash FROM story_bands"):
            bands.setdefault(article_id, set()).add(band)
        members: dict[int, set[str]] = {}
        story_of = dict(conn.execute("SELECT article_id, story_id FROM story_articles"))
        urls = {row[0]: row[1] for row in articles}
        for article_id, story_id in story_of.items():
            members.setdefault(story_id, set()).add(urls[article_id])
    finally:
        conn.close()
    return sorted(
        (
            *row[1:],
            tuple(sorted(tags.get(row[0], []))),
            prints.get(row[0]),
            tuple(sorted(bands.get(row[0], ()))),
            tuple(sorted(members.get(story_of.get(row[0], -1), ()))),
        )
        for row in articles
    )


# Entries without a date: their story prints are made in the feed thread, at its clock.
UNDATED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>날짜 없는 피드</title><link>https://undated.test/</link>
<description>x</description>
<item><title>반도체 수출 3개월 연속 증가</title><link>https://undated.test/a/1</link>
<description>산업통상자원부는 반도체 수출이 석 달 연속 늘었다고 밝혔다. 메모리 가격 회복과
인공지능 서버 수요가 수출을 이끌었고, 정부는 하반기에도 증가세가 이어질 것으로 내다봤다.
</description></item>
<item><title>짧은 글</title><link>https://undated.test/a/2</link><description>짧다</description></item>
</channel></rss>"""


@pytest.mark.parametrize("per_poll", [1_000, 10], ids=["whole-feeds", "deferred"])
def test_a_prepared_poll_stores_what_an_in_process_poll_stores(
    per_poll: int,
    corpus_dir: Path,
    httpserver: HTTPServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The corpus feeds, polled with the shipped config in-process and through the pool:
    the same articles, text and tags. With 10 entries a poll, feeds are longer than a poll
    stores: the pool does not tag them and the pipeline does."""
    urls = []
    for path in sorted((corpus_dir / "feeds").glob("*.xml")):
        httpserver.expect_request(f"/{path.name}").respond_with_data(
            path.read_bytes(), content_type="application/rss+xml"
        )
        urls.append(httpserver.url_for(f"/{path.name}"))
    assert len(urls) >= 5
    httpserver.expect_request("/undated.xml").respond_with_data(
        UNDATED, content_type="application/rss+xml"
    )
    urls.append(httpserver.url_for("/undated.xml"))
    clock = lambda: datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # noqa: E731
    rows = {}
    tagged_here: dict[int, int] = {}
    real_tags_for_many = pipeline.tags_for_many
    for workers in (0, 1):
        database = tmp_path / f"w{workers}.db"
        # One feed at a time: an article that two feeds carry is stored by the first to come,
        # and both runs must take the feeds in the same order.
        config = shipped_config(f"sqlite:///{database}", urls, concurrency=1, per_poll=per_poll)
        tagged_here[workers] = 0

        def counting(items: Any, *args: Any, workers: int = workers) -> Any:
            tagged_here[workers] += len(items)
            return real_tags_for_many(items, *args)

        monkeypatch.setattr(pipeline, "tags_for_many", counting)
        with open_services(config, environ={}, prepare_workers=workers) as svc:
            assert (svc.prepare is not None) == (workers > 0)
            svc = replace(svc, control=replace(svc.control, clock=clock))
            pool = None
            if workers:
                # Every document through the pool: these are fewer than PARSE_HERE_FIRST.
                pool = PreparePool(config, None, workers=workers, parse_here_first=0)
                svc = replace(svc, prepare=pool)
            try:
                results = poll_feeds(config.feeds, svc)
            finally:
                if pool is not None:
                    pool.close()
        assert all(r.status == "ok" for r in results), [r.error for r in results]
        rows[workers] = stored(database)
    # In-process, every stored entry was tagged here; through the pool, none of a whole feed.
    assert tagged_here[0] > 0
    if per_poll == 1_000:
        assert tagged_here[1] == 0
    else:  # the feeds longer than a poll were tagged here, the others came tagged
        assert 0 < tagged_here[1] < tagged_here[0]
    assert len(rows[0]) > (100 if per_poll == 1_000 else 50)
    # Tagged on their titles and feed text by the shipped rules and model: some by each.
    sources = {tag[1] for row in rows[0] for tag in row[10]}
    assert {"model", "rule", "category"} <= sources
    # Indexed, and in stories: made by the workers for the dated entries of whole feeds.
    assert all(row[8] for row in rows[0])
    assert sum(row[11] is not None for row in rows[0]) > 50
    assert any(len(row[13]) > 1 for row in rows[0])
    undated = [row for row in rows[0] if row[0] == "https://undated.test/a/1"]
    assert undated[0][11][-1].startswith("2026-12-07 09:00")
    assert rows[1] == rows[0]


# Module-level: the worker unpickles the task by name.
def misbehaving_task(
    body: bytes, url: str, headers: dict[str, str], limits: FieldLimits, feed: FeedConfig
) -> tuple[str, Any]:
    if url.endswith("/slow.xml"):
        time.sleep(30)
    if url.endswith("/dies.xml"):
        os._exit(3)
    return prepare_in_worker(body, url, headers, limits, feed)


def test_a_document_that_hangs_or_kills_its_worker_fails_alone(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    base = httpserver.url_for("").rstrip("/")
    for name in ("good", "slow", "dies", "after"):
        httpserver.expect_request(f"/{name}.xml").respond_with_data(
            rss(name, items(base, 2, prefix=name)), content_type="application/rss+xml"
        )
    urls = [httpserver.url_for(f"/{n}.xml") for n in ("good", "slow", "dies", "after")]
    config = shipped_config(f"sqlite:///{tmp_path / 'a.db'}", urls)
    with open_services(config, environ={}) as svc:
        pool = PreparePool(
            config, None, workers=1, timeout=3, parse_here_first=0, target=misbehaving_task
        )
        try:
            svc = replace(svc, prepare=pool)
            results = {r.feed_url: r for r in poll_feeds(config.feeds, svc)}
        finally:
            pool.close()
        health = {h.url: h for h in svc.store.feed_health()}
    ok = [u for u in urls if results[u].status == "ok"]
    assert ok == [urls[0], urls[3]] and all(results[u].new == 2 for u in ok)
    assert results[urls[1]].error == "parsing timed out after 3s"
    assert results[urls[2]].error == "parse worker died (exit code 3)"
    assert "parsing timed out" in (health[urls[1]].last_error or "")


def unavailable_task(
    body: bytes, url: str, headers: dict[str, str], limits: FieldLimits, feed: FeedConfig
) -> tuple[str, Any]:
    return ("unavailable", "the parse worker could not load the tagger: test")


def test_a_pool_that_cannot_serve_leaves_parsing_to_the_feed_thread(
    httpserver: HTTPServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    base = httpserver.url_for("").rstrip("/")
    names = [f"f{i}" for i in range(6)]
    for name in names:
        httpserver.expect_request(f"/{name}.xml").respond_with_data(
            rss(name, items(f"{base}/{name}", 3)), content_type="application/rss+xml"
        )
    # One feed at a time, so that the first answer comes before the next document is sent.
    config = shipped_config(
        f"sqlite:///{tmp_path / 'a.db'}",
        [httpserver.url_for(f"/{n}.xml") for n in names],
        concurrency=1,
    )
    with open_services(config, environ={}) as svc:
        pool = PreparePool(config, None, workers=1, parse_here_first=0, target=unavailable_task)
        try:
            results = poll_feeds(config.feeds, replace(svc, prepare=pool))
        finally:
            pool.close()
    assert [(r.status, r.new) for r in results] == [("ok", 3)] * len(names)
    # Said once, by the first document; the pool sends no more after that.
    warnings = [r for r in caplog.records if "parsed in-process" in r.getMessage()]
    assert len(warnings) == 1
    assert "the parse worker could not load the tagger" in warnings[0].getMessage()
    with pytest.raises(PrepareUnavailable, match="closed"):
        pool.submit(b"<rss/>", "http://a.test/", {}, config.feeds[0])


def test_closing_the_pool_interrupts_the_documents_still_waiting(tmp_path: Path) -> None:
    config = shipped_config(f"sqlite:///{tmp_path / 'a.db'}", ["http://a.test/slow.xml"])
    pool = PreparePool(
        config, None, workers=1, timeout=60, parse_here_first=1, target=misbehaving_task
    )
    # The first document is the caller's to parse: the workers start with the second.
    assert pool.submit(b"<rss/>", "http://a.test/slow.xml", {}, config.feeds[0]) is None
    waiting = pool.submit(b"<rss/>", "http://a.test/slow.xml", {}, config.feeds[0])
    assert waiting is not None
    started = time.monotonic()
    pool.close()
    with pytest.raises(Interrupted):
        waiting.result(timeout=10)
    assert time.monotonic() - started < 10


def test_how_many_workers_a_poll_gets() -> None:
    def feeds(plain: int, full: int = 0) -> list[FeedConfig]:
        return [
            FeedConfig(url=f"https://a.test/{i}.xml", full_text=False) for i in range(plain)
        ] + [FeedConfig(url=f"https://b.test/{i}.xml") for i in range(full)]

    assert prepare_workers_for(feeds(PREPARE_MIN_FEEDS), cpus=2) == 1
    assert prepare_workers_for(feeds(PREPARE_MIN_FEEDS), cpus=8) == 2  # one keeps up
    assert prepare_workers_for(feeds(PREPARE_MIN_FEEDS), cpus=1) == 0
    # Full-text feeds are the extraction workers' business; few feeds are not worth it.
    assert prepare_workers_for(feeds(PREPARE_MIN_FEEDS - 1, full=50), cpus=8) == 0
