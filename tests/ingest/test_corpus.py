"""Real Korean feeds from ../shared/corpus, served over loopback HTTP, through the whole
ingest path: correct Hangul, correct instants, each entry stored exactly once."""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from aggregator.ingest.extract.pool import ExtractionPool
from aggregator.ingest.fetch import FetchSettings, HttpFetcher
from aggregator.ingest.parse.feed import parse_feed
from aggregator.ingest.parse.xmlfeed import parse_feed_document
from aggregator.ingest.pipeline import poll_feeds
from tests.conftest import CORPUS
from tests.ingest.parse.test_parse import _XFAIL, _case_meta, _requirement_met, looks_garbled
from tests.ingest.test_pipeline import make_config, services

pytestmark = pytest.mark.corpus

FEED_FILES = (
    sorted(str(p.relative_to(CORPUS / "feeds")) for p in (CORPUS / "feeds").rglob("*.xml"))
    if (CORPUS / "feeds").is_dir()
    else []
)


@pytest.fixture(scope="module")
def extraction_pool() -> Iterator[ExtractionPool]:
    with ExtractionPool(workers=1, timeout=30) as pool:
        yield pool


def test_corpus_has_feeds(corpus_dir: Path) -> None:
    assert len(FEED_FILES) >= 15
    assert any(name.startswith("euc-kr-legacy/") for name in FEED_FILES)


def test_every_real_feed_ingests_once_with_correct_hangul_and_instants(
    corpus_dir: Path, db_url: str, httpserver: HTTPServer, extraction_pool: ExtractionPool
) -> None:
    feeds = []
    expected_entries = 0
    for index, name in enumerate(FEED_FILES):
        body = (corpus_dir / "feeds" / name).read_bytes()
        # Served without a charset, as many Korean servers do: the document must say.
        httpserver.expect_request(f"/feed/{index}").respond_with_data(
            body, content_type="application/xml"
        )
        feeds.append({"url": httpserver.url_for(f"/feed/{index}"), "full_text": False})
        parsed = parse_feed(body, httpserver.url_for(f"/feed/{index}"))
        expected_entries += len({e.key for e in parsed.entries})
    config = make_config(db_url, feeds)
    with services(config, extraction_pool) as svc:
        first = poll_feeds(config.feeds, svc)
        assert [r for r in first if r.status != "ok"] == []
        after_first = svc.store.counts()
        for _ in range(2):
            again = poll_feeds(config.feeds, svc)
            assert sum(r.new + r.updated for r in again) == 0
        assert svc.store.counts() == after_first
        assert after_first["entries"] == expected_entries
        # Chosun's all-news snapshots of two days share articles: stored once, linked twice.
        assert after_first["articles"] < after_first["entries"]
        articles = svc.store.list_articles(limit=10_000)
    assert len(articles) == after_first["articles"]
    for article in articles:
        assert article.title.strip(), article
        assert not looks_garbled(article.title), article.title
        assert not looks_garbled(article.text[:2000]), article.url
    hangul = sum(1 for a in articles if re.search(r"[가-힣]", a.title))
    assert hangul > 0.9 * len(articles)

    by_url = {a.url: a for a in articles}
    # Chosun: items carry +0900; the first item of the 10-19 all-news feed.
    chosun = [a for a in articles if a.url and "chosun.com" in a.url]
    assert chosun and all(a.published_at is not None for a in chosun)
    # Kyunghyang: dc:date with +09:00
    khan = [a for a in articles if a.url and "khan.co.kr" in a.url]
    assert khan and all(a.published_at and a.published_at.tzinfo == UTC for a in khan)
    assert by_url  # sanity


def test_chosun_instant_is_korea_time(
    corpus_dir: Path, db_url: str, httpserver: HTTPServer, extraction_pool: ExtractionPool
) -> None:
    body = (corpus_dir / "feeds" / "chosun_all_2018-10-19.xml").read_bytes()
    httpserver.expect_request("/chosun").respond_with_data(body, content_type="application/xml")
    config = make_config(db_url, [{"url": httpserver.url_for("/chosun"), "full_text": False}])
    first = parse_feed(body, "http://x/").entries[0]
    with services(config, extraction_pool) as svc:
        poll_feeds(config.feeds, svc)
        stored = {a.title: a for a in svc.store.list_articles(limit=1000)}
    assert stored[first.title].published_at == datetime(2018, 10, 19, 4, 29, 9, tzinfo=UTC)


def test_euc_kr_legacy_feed_served_with_euc_kr_header(
    corpus_dir: Path, db_url: str, httpserver: HTTPServer, extraction_pool: ExtractionPool
) -> None:
    body = (corpus_dir / "feeds" / "euc-kr-legacy" / "blog.rss.naver.com.xml").read_bytes()
    httpserver.expect_request("/naver").respond_with_data(
        body, content_type="text/xml; charset=euc-kr"
    )
    config = make_config(db_url, [{"url": httpserver.url_for("/naver"), "full_text": False}])
    with services(config, extraction_pool) as svc:
        [result] = poll_feeds(config.feeds, svc)
        articles = svc.store.list_articles()
    assert result.status == "ok" and result.new == len(articles) > 0
    assert all(re.search(r"[가-힣]", a.title + a.text) for a in articles)
    assert not any(looks_garbled(a.title) for a in articles)


# -- feedparser's encoding cases, served over HTTP with their Header: lines ------------------

ENCODING_FILES = (
    sorted(
        str(p.relative_to(CORPUS / "feedparser-encoding"))
        for p in (CORPUS / "feedparser-encoding").rglob("*.xml")
    )
    if (CORPUS / "feedparser-encoding").is_dir()
    else []
)


@pytest.fixture(scope="module")
def fetcher() -> Iterator[HttpFetcher]:
    with HttpFetcher(FetchSettings(allow_private_networks=True, total_timeout=10)) as f:
        yield f


@pytest.mark.parametrize("name", ENCODING_FILES)
def test_encoding_case_over_http(
    name: str, corpus_dir: Path, httpserver: HTTPServer, fetcher: HttpFetcher
) -> None:
    data = (corpus_dir / "feedparser-encoding" / name).read_bytes()
    headers, expect, skip_unless = _case_meta(data)
    if name in _XFAIL:
        pytest.xfail(_XFAIL[name])
    if not _requirement_met(skip_unless):
        pytest.skip(f"needs {skip_unless} (not a dependency of aggregator)")
    if not headers:
        # A case without Header: lines is a local file in feedparser's suite; the neutral
        # HTTP equivalent is application/xml with no charset, which defers to the document.
        headers = {"Content-Type": "application/xml"}
    response = Response(data, headers=headers)
    if not any(k.lower() == "content-type" for k in headers):
        del response.headers["Content-Type"]
    httpserver.expect_request("/case").respond_with_response(response)
    fetched = fetcher.fetch(httpserver.url_for("/case"))
    document = parse_feed_document(fetched.content, fetched.final_url, fetched.headers)
    scope: dict[str, Any] = {"feedparser": feedparser, "__builtins__": builtins}
    assert eval(expect, scope, document.result), (expect, dict(fetched.headers))
