"""The whole ingest path over a loopback HTTP server, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from aggregator.config.schema import Config, parse_config
from aggregator.ingest.extract.pool import ExtractionPool
from aggregator.ingest.pipeline import Services, poll_feeds
from aggregator.service.runtime import open_services
from tests.sites import PARAGRAPHS, Item, article_page, items, rss


@pytest.fixture(scope="module")
def extraction_pool() -> Iterator[ExtractionPool]:
    with ExtractionPool(workers=1, timeout=30, max_tasks=100) as pool:
        yield pool


def make_config(db_url: str, feeds: list[dict[str, Any]], **extra: Any) -> Config:
    data: dict[str, Any] = {
        "database": db_url,
        "fetch": {"allow_private_networks": True, "timeout": 10, "concurrency": 4},
        "tags": {
            "economy": {"keywords": ["환율", "기준금리"], "aliases": ["경제"]},
            "politics": {"keywords": ["국회"], "aliases": ["정치"]},
            "world": {},
        },
        "feeds": feeds,
    }
    data.update(extra)
    return parse_config(data)


@contextmanager
def services(config: Config, pool: ExtractionPool) -> Iterator[Services]:
    with open_services(config, extractor=pool, environ={}) as svc:
        yield svc


def serve_site(
    server: HTTPServer, path: str, feed_items: list[Item], title: str = "테스트일보"
) -> str:
    server.expect_request(path).respond_with_data(
        rss(title, feed_items), content_type="application/rss+xml; charset=utf-8"
    )
    for item in feed_items:
        page_path = item.link.split(server.url_for(""), 1)[-1].split("?")[0]
        server.expect_request("/" + page_path.lstrip("/")).respond_with_data(
            article_page(item.title, PARAGRAPHS), content_type="text/html; charset=utf-8"
        )
    return server.url_for(path)


def test_ingest_stores_full_text_tags_once(
    db_url: str, httpserver: HTTPServer, extraction_pool: ExtractionPool
) -> None:
    base = httpserver.url_for("").rstrip("/")
    feed_items = items(base, 3)
    feed_items[0].categories = ("경제",)
    url = serve_site(httpserver, "/rss/all.xml", feed_items)
    config = make_config(db_url, [{"url": url, "tags": ["world"]}])
    with services(config, extraction_pool) as svc:
        [first] = poll_feeds(config.feeds, svc)
        assert (first.status, first.new, first.extracted) == ("ok", 3, 3), first
        for _ in range(2):
            [again] = poll_feeds(config.feeds, svc)
            assert (again.status, again.new, again.updated) == ("ok", 0, 0)
        assert svc.store.counts() == {"feeds": 1, "articles": 3, "entries": 3}
        articles = svc.store.list_articles()
    by_title = {a.title: a for a in articles}
    art = by_title[feed_items[0].title]
    # canonical link: tracking parameters gone
    assert art.url == f"{base}/article/a0"
    assert art.text_source == "trafilatura"
    assert PARAGRAPHS[1][:30] in art.text
    for junk in ("많이 본 뉴스", "무단전재", "개인정보처리방침", "다른 기사 제목이"):
        assert junk not in art.text
    assert art.text.count("홍길동 기자") <= 1
    assert not art.text.startswith(art.title)
    assert {"world", "economy"} <= set(art.tags)  # feed tag + category alias + rules


def test_entries_pruned_from_a_feed_stay_pruned_while_it_carries_them(
    db_url: str, httpserver: HTTPServer, extraction_pool: ExtractionPool
) -> None:
    """Every entry of the feed pruned: it has no entries left, only tombstones, and the
    next poll of the same document stores none of them again (a new one it does)."""
    from datetime import UTC, datetime

    base = httpserver.url_for("").rstrip("/")
    feed_items = items(base, 3)
    url = serve_site(httpserver, "/rss/pruned.xml", feed_items)
    config = make_config(db_url, [{"url": url, "full_text": False}])
    with services(config, extraction_pool) as svc:
        [first] = poll_feeds(config.feeds, svc)
        assert (first.status, first.new) == ("ok", 3)
        ids = [a.id for a in svc.store.list_articles()]
        assert svc.store.prune_articles(ids, datetime.now(UTC)) == 3
        state = svc.store.feed_state(url)
        assert state is not None and (state.has_entries, state.has_tombstones) == (False, True)
        [again] = poll_feeds(config.feeds, svc)
        assert (again.status, again.new) == ("ok", 0), again
        assert svc.store.counts()["articles"] == 0
        httpserver.clear()
        serve_site(httpserver, "/rss/pruned.xml", [*items(base, 1, prefix="n"), *feed_items])
        [later] = poll_feeds(config.feeds, svc)
        assert (later.status, later.new) == ("ok", 1), later


def test_entries_pruned_while_their_feed_is_fetched_stay_pruned(
    db_url: str, httpserver: HTTPServer, extraction_pool: ExtractionPool
) -> None:
    """Retention may prune a feed's entries between the read of its state and its write:
    the state said it had entries and no tombstones, and the tombstones are still looked up
    (a review found them skipped, and the pruned articles stored again)."""
    from dataclasses import replace
    from datetime import UTC, datetime

    base = httpserver.url_for("").rstrip("/")
    url = serve_site(httpserver, "/rss/racing.xml", items(base, 3))
    config = make_config(db_url, [{"url": url, "full_text": False}])
    with services(config, extraction_pool) as svc:
        [first] = poll_feeds(config.feeds, svc)
        assert (first.status, first.new) == ("ok", 3)
        real_fetch = svc.fetcher.fetch

        def fetch_while_pruning(*args: Any, **kwargs: Any) -> Any:
            ids = [a.id for a in svc.store.list_articles()]
            assert svc.store.prune_articles(ids, datetime.now(UTC)) == 3
            return real_fetch(*args, **kwargs)

        pruning = replace(svc, fetcher=FetchingWith(svc.fetcher, fetch_while_pruning))
        [again] = poll_feeds(config.feeds, pruning)
        assert (again.status, again.new) == ("ok", 0), again
        assert svc.store.counts()["articles"] == 0


class FetchingWith:
    """``fetcher`` with its ``fetch`` replaced by ``fetch``."""

    def __init__(self, fetcher: Any, fetch: Any) -> None:
        self._fetcher = fetcher
        self.fetch = fetch

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fetcher, name)


def test_pages_are_reported_as_queued_and_done(
    db_url: str, httpserver: HTTPServer, extraction_pool: ExtractionPool
) -> None:
    from dataclasses import replace

    base = httpserver.url_for("").rstrip("/")
    # Two section feeds share a page: it is fetched, and counted, once.
    shared = items(base, 3)
    url_a = serve_site(httpserver, "/rss/a.xml", shared)
    url_b = serve_site(httpserver, "/rss/b.xml", [*shared[:1], *items(base, 2, prefix="b")])
    config = make_config(db_url, [{"url": url_a}, {"url": url_b}])
    events: list[tuple[int, int]] = []
    with services(config, extraction_pool) as svc:
        observed = replace(
            svc, control=replace(svc.control, on_pages=lambda q, d: events.append((q, d)))
        )
        results = poll_feeds(config.feeds, observed)
        assert svc.store.counts()["articles"] == 5, results
        queued = sum(q for q, _ in events)
        done = sum(d for _, d in events)
        assert queued == done == 5, events
        events.clear()
        poll_feeds(config.feeds, observed)  # nothing new: no page, no event
    assert events == []


def test_edited_entry_updates_in_place(
    db_url: str, httpserver: HTTPServer, extraction_pool: ExtractionPool
) -> None:
    base = httpserver.url_for("").rstrip("/")
    feed_items = items(base, 2)
    url = serve_site(httpserver, "/rss.xml", feed_items)
    config = make_config(db_url, [{"url": url}])
    with services(config, extraction_pool) as svc:
        poll_feeds(config.feeds, svc)
        feed_items[1].title = "고친 제목: 경제정책 방향 확정"
        httpserver.clear()
        serve_site(httpserver, "/rss.xml", feed_items)
        [result] = poll_feeds(config.feeds, svc)
        assert (result.new, result.updated) == (0, 1)
        assert svc.store.counts()["articles"] == 2
        titles = {a.title for a in svc.store.list_articles()}
    assert "고친 제목: 경제정책 방향 확정" in titles


def test_overlapping_section_feeds_store_one_article(
    db_url: str, httpserver: HTTPServer, extraction_pool: ExtractionPool
) -> None:
    base = httpserver.url_for("").rstrip("/")
    shared = items(base, 2)
    all_url = serve_site(httpserver, "/rss/all.xml", shared)
    # The section feed carries the same articles under other guids and tracking parameters.
    section_items = [
        Item(guid=f"politics-{i.guid}", title=i.title, link=i.link.split("?")[0] + "?fbclid=x")
        for i in shared
    ]
    politics_url = serve_site(httpserver, "/rss/politics.xml", section_items)
    config = make_config(db_url, [{"url": all_url}, {"url": politics_url, "tags": ["politics"]}])
    with services(config, extraction_pool) as svc:
        results = poll_feeds(config.feeds, svc)
        assert sum(r.new for r in results) == 2
        poll_feeds(config.feeds, svc)
        assert svc.store.counts() == {"feeds": 2, "articles": 2, "entries": 4}
        tagged = svc.store.list_articles(tag="politics")
    assert len(tagged) == 2
    page_hits = [r for r, _ in httpserver.log if r.path.startswith("/article/")]
    assert len(page_hits) == 2  # each page fetched once, not once per feed


def test_broken_feeds_do_not_stop_the_others(
    db_url: str, httpserver: HTTPServer, extraction_pool: ExtractionPool
) -> None:
    base = httpserver.url_for("").rstrip("/")
    good = serve_site(httpserver, "/good.xml", items(base, 1))
    httpserver.expect_request("/html").respond_with_data(
        "<html><body><h1>Not here</h1></body></html>", content_type="text/html"
    )
    httpserver.expect_request("/500").respond_with_data("oops", status=500)
    httpserver.expect_request("/empty").respond_with_data("", content_type="application/rss+xml")
    config = make_config(
        db_url,
        [
            {"url": httpserver.url_for("/html")},
            {"url": httpserver.url_for("/500")},
            {"url": good},
            {"url": httpserver.url_for("/empty")},
            {"url": "http://127.0.0.1:9/closed-port.xml"},
        ],
    )
    with services(config, extraction_pool) as svc:
        results = {r.feed_url: r for r in poll_feeds(config.feeds, svc)}
        health = {h.url: h for h in svc.store.feed_health()}
    assert results[good].status == "ok" and results[good].new == 1
    failed = [u for u, r in results.items() if r.status == "error"]
    assert len(failed) == 4
    assert health[httpserver.url_for("/500")].last_http_status == 500
    assert "500" in (health[httpserver.url_for("/500")].last_error or "")
    assert "not a feed" in (health[httpserver.url_for("/html")].last_error or "").lower()
    assert all(health[u].error_count == 1 for u in failed)


def test_conditional_get_second_poll_is_304(
    db_url: str, httpserver: HTTPServer, extraction_pool: ExtractionPool
) -> None:
    base = httpserver.url_for("").rstrip("/")
    body = rss("테스트", items(base, 1))
    seen: list[dict[str, str]] = []

    def handler(request: Request) -> Response:
        seen.append(dict(request.headers))
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304, headers={"ETag": '"v1"'})
        return Response(body, content_type="application/rss+xml", headers={"ETag": '"v1"'})

    httpserver.expect_request("/feed").respond_with_handler(handler)
    config = make_config(db_url, [{"url": httpserver.url_for("/feed"), "full_text": False}])
    with services(config, extraction_pool) as svc:
        [first] = poll_feeds(config.feeds, svc)
        [second] = poll_feeds(config.feeds, svc)
        [health] = svc.store.feed_health()
    assert (first.status, first.new) == ("ok", 1)
    assert second.status == "not_modified"
    assert seen[1].get("If-None-Match") == '"v1"'
    assert "aggregator/" in seen[0]["User-Agent"]
    assert health.last_status == "not_modified" and health.entries == 1


def test_full_text_false_keeps_feed_text_and_fetches_no_page(
    db_url: str, httpserver: HTTPServer, extraction_pool: ExtractionPool
) -> None:
    base = httpserver.url_for("").rstrip("/")
    feed_items = items(base, 1)
    feed_items[0].description = "<p>피드에 실린 본문입니다. 국회는 오늘 본회의를 열었다.</p>"
    url = serve_site(httpserver, "/f.xml", feed_items)
    config = make_config(db_url, [{"url": url, "full_text": False}])
    with services(config, extraction_pool) as svc:
        poll_feeds(config.feeds, svc)
        [article] = svc.store.list_articles()
    assert article.text_source == "feed"
    assert "피드에 실린 본문입니다" in article.text and "<p>" not in article.text
    assert article.extract_status == "skipped"
    assert not [r for r, _ in httpserver.log if r.path.startswith("/article/")]


def test_page_failure_keeps_feed_text_and_records_error(
    db_url: str, httpserver: HTTPServer, extraction_pool: ExtractionPool
) -> None:
    base = httpserver.url_for("").rstrip("/")
    feed_items = items(base, 1)
    feed_items[0].description = "피드 요약 본문."
    httpserver.expect_request("/f.xml").respond_with_data(
        rss("t", feed_items), content_type="application/rss+xml"
    )
    httpserver.expect_request("/article/a0").respond_with_data("gone", status=404)
    config = make_config(db_url, [{"url": httpserver.url_for("/f.xml")}])
    with services(config, extraction_pool) as svc:
        [result] = poll_feeds(config.feeds, svc)
        [article] = svc.store.list_articles()
    assert result.status == "ok" and result.new == 1 and result.extract_failed == 1
    assert article.extract_status == "failed" and "404" in (article.extract_error or "")
    assert article.text_source == "feed" and "피드 요약 본문" in article.text


def test_private_link_refused_by_default_without_connecting(
    db_url: str, httpserver: HTTPServer, extraction_pool: ExtractionPool
) -> None:
    """The feed host is allowed by name; an article link to 127.0.0.1 is not."""
    base = httpserver.url_for("").rstrip("/")
    feed_items = items(base, 1)  # links point at http://localhost:<port>/article/...
    feed_items[0].link = feed_items[0].link.replace("localhost", "127.0.0.1")
    httpserver.expect_request("/f.xml").respond_with_data(
        rss("t", feed_items), content_type="application/rss+xml"
    )
    httpserver.expect_request("/article/a0").respond_with_data(
        article_page("x", PARAGRAPHS), content_type="text/html"
    )
    config = make_config(
        db_url,
        [{"url": httpserver.url_for("/f.xml")}],
        fetch={"allow_private_networks": False, "allowed_hosts": ["localhost"]},
    )
    with services(config, extraction_pool) as svc:
        [result] = poll_feeds(config.feeds, svc)
        [article] = svc.store.list_articles()
    assert result.status == "ok" and result.new == 1
    assert article.extract_status == "failed"
    assert "127.0.0.1" in (article.extract_error or "")
    assert [r.path for r, _ in httpserver.log] == ["/f.xml"]


def test_edit_keeps_tags_found_in_the_extracted_text(
    db_url: str, httpserver: HTTPServer, extraction_pool: ExtractionPool
) -> None:
    base = httpserver.url_for("").rstrip("/")
    feed_items = items(base, 1)
    feed_items[0].title = "정부 발표"  # no keyword in the title: the tag comes from the page
    url = serve_site(httpserver, "/f.xml", feed_items)
    config = make_config(db_url, [{"url": url}])
    with services(config, extraction_pool) as svc:
        poll_feeds(config.feeds, svc)
        [before] = svc.store.list_articles()
        assert "economy" in before.tags  # 환율 and 기준금리 are in the page text only
        feed_items[0].description = "요약을 고쳤습니다."
        httpserver.clear()
        serve_site(httpserver, "/f.xml", feed_items)
        [result] = poll_feeds(config.feeds, svc)
        [after] = svc.store.list_articles()
    assert result.updated == 1
    assert "economy" in after.tags
    assert after.text == before.text


def test_items_sharing_a_guid_are_distinct_articles(
    db_url: str, httpserver: HTTPServer, extraction_pool: ExtractionPool
) -> None:
    base = httpserver.url_for("").rstrip("/")
    feed_items = items(base, 3)
    for item in feed_items:
        item.guid = "same-guid-for-everything"
    url = serve_site(httpserver, "/f.xml", feed_items)
    config = make_config(db_url, [{"url": url, "full_text": False}])
    with services(config, extraction_pool) as svc:
        [first] = poll_feeds(config.feeds, svc)
        [second] = poll_feeds(config.feeds, svc)
        assert svc.store.counts()["articles"] == 3
    assert (first.new, second.new, second.updated) == (3, 0, 0)


def _state(svc: Services, url: str) -> Any:
    state = svc.store.feed_state(url)
    assert state is not None
    return state


def test_errors_back_off_and_retry_after_is_a_lower_bound(
    db_url: str, httpserver: HTTPServer, extraction_pool: ExtractionPool
) -> None:
    from datetime import UTC, datetime, timedelta

    httpserver.expect_request("/500").respond_with_data("oops", status=500)
    httpserver.expect_request("/429").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "7200"}
    )
    httpserver.expect_request("/410").respond_with_data("gone", status=410)
    urls = [httpserver.url_for(p) for p in ("/500", "/429", "/410")]
    config = make_config(
        db_url,
        [{"url": u} for u in urls],
        schedule={"min_interval": "1m", "max_interval": "1h", "error_cap": "8h", "jitter": 0},
    )
    with services(config, extraction_pool) as svc:
        intervals = []
        for _ in range(4):
            poll_feeds(config.feeds[:1], svc)
            intervals.append(_state(svc, urls[0]).interval_seconds)
        before = datetime.now(UTC)
        poll_feeds(config.feeds[1:], svc)
        limited, gone = _state(svc, urls[1]), _state(svc, urls[2])
    assert intervals == [60, 120, 240, 480]  # doubling from min_interval
    assert limited.next_check_at >= before + timedelta(seconds=7200)
    assert gone.gone and gone.interval_seconds == 8 * 3600  # still checked, at the cap


def test_permanent_redirect_moves_the_feed_after_three_polls(
    db_url: str, httpserver: HTTPServer, extraction_pool: ExtractionPool
) -> None:
    base = httpserver.url_for("").rstrip("/")
    httpserver.expect_request("/old.xml").respond_with_data(
        "", status=301, headers={"Location": "/new.xml"}
    )
    httpserver.expect_request("/new.xml").respond_with_data(
        rss("t", items(base, 1)), content_type="application/rss+xml"
    )
    old = httpserver.url_for("/old.xml")
    config = make_config(db_url, [{"url": old, "full_text": False}])
    with services(config, extraction_pool) as svc:
        streaks = []
        for _ in range(3):
            poll_feeds(config.feeds, svc)
            state = _state(svc, old)
            streaks.append((state.redirect_streak, state.fetch_url))
        hits_before = len(httpserver.log)
        poll_feeds(config.feeds, svc)
    new = httpserver.url_for("/new.xml")
    assert streaks == [(1, None), (2, None), (0, new)]
    # The fourth poll goes straight to the new URL.
    assert [r.path for r, _ in httpserver.log[hits_before:]] == ["/new.xml"]
