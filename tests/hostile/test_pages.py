"""The hostile-input catalogue, pages: a 30 MB article page, a page that outlives the
extraction limit, an extraction worker SIGKILLed mid-page. Each in a real poll (loopback
server, real fetcher, real trafilatura in a real worker pool, a real SQLite file) of a feed
whose other articles must be extracted all the same; the hostile one is stored with its feed
text and says why it has no full text."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from aggregator.config.schema import parse_config
from aggregator.ingest.extract.pool import ExtractionPool
from aggregator.ingest.pipeline import poll_feeds
from aggregator.service.runtime import open_services
from aggregator.store.records.reading import ArticleView
from tests.sites import PARAGRAPHS, Item, article_page, rss

pytestmark = pytest.mark.slow

# trafilatura needs about 5 s for this page on a 2-core machine: far beyond a 1 s limit.
SLOW_PAGE = (
    "<html><body><article>"
    + "".join(
        f"<p>{n}번째 문단. "
        + "국회는 내년도 예산안을 의결했고 정부는 집행 계획을 발표했다. " * 20
        + "</p>"
        for n in range(20_000)
    )
    + "</article></body></html>"
).encode()


def _descendants(pid: int) -> dict[int, int]:
    """pid -> parent pid of every process under ``pid``, from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    found: dict[int, int] = {}
    todo = [pid]
    while todo:
        parent = todo.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in found:
                found[child] = ppid
                todo.append(child)
    return found


def _poll(
    tmp_path: Path,
    httpserver: HTTPServer,
    hostile: Any,
    *,
    timeout: float = 60.0,
    max_body_mb: float = 15.0,
    during: Any = None,
) -> tuple[Any, dict[str, ArticleView]]:
    """Poll a feed of three articles, the second served by ``hostile``; ``during(event)`` runs
    in a thread while the poll does, with an event set once the hostile page was requested."""
    base = httpserver.url_for("").rstrip("/")
    feed_items = [
        Item(
            f"g{i}", f"기사 {i}: 예산안 국회 통과", f"{base}/article/{i}", description="피드 요약."
        )
        for i in range(3)
    ]
    httpserver.expect_request("/f.xml").respond_with_data(
        rss("테스트일보", feed_items), content_type="application/rss+xml"
    )
    requested = threading.Event()

    def hostile_page(request: Request) -> Response:
        requested.set()
        response: Response = hostile(request)
        return response

    for i in (0, 2):
        httpserver.expect_request(f"/article/{i}").respond_with_data(
            article_page(f"기사 {i}", PARAGRAPHS), content_type="text/html; charset=utf-8"
        )
    httpserver.expect_request("/article/1").respond_with_handler(hostile_page)
    config = parse_config(
        {
            "database": f"sqlite:///{tmp_path / 'aggregator.db'}",
            "fetch": {
                "allow_private_networks": True,
                "timeout": 60,
                "max_body_mb": max_body_mb,
                "concurrency": 1,
            },
            "feeds": [{"url": httpserver.url_for("/f.xml")}],
        }
    )
    helper = None
    with (
        ExtractionPool(workers=1, timeout=timeout) as pool,
        open_services(config, extractor=pool, environ={}) as services,
    ):
        if during is not None:
            helper = threading.Thread(target=during, args=(requested,), daemon=True)
            helper.start()
        [result] = poll_feeds(config.feeds, services)
        articles = {a.url.rsplit("/", 1)[-1]: a for a in services.store.list_articles()}
    if helper is not None:
        helper.join(timeout=30)
    return result, articles


def _check(result: Any, articles: dict[str, ArticleView], reason: str) -> None:
    assert result.status == "ok" and result.new == 3, result
    assert result.extract_failed == 1, result
    for good in ("0", "2"):
        assert articles[good].extract_status == "ok", articles[good]
        assert "경제관계장관회의" in articles[good].text
    bad = articles["1"]
    assert bad.extract_status == "failed" and reason in (bad.extract_error or ""), bad
    assert bad.text_source == "feed" and "피드 요약" in bad.text


def test_a_thirty_megabyte_page_costs_only_its_own_full_text(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    huge = b"<html><body><p>" + "가".encode() * (10 * 1024 * 1024) + b"</p></body></html>"
    assert len(huge) > 30 * 1024 * 1024
    result, articles = _poll(
        tmp_path,
        httpserver,
        lambda request: Response(huge, content_type="text/html; charset=utf-8"),
    )
    _check(result, articles, "exceeds 15728640 bytes (fetch.max_body_mb: 15 MB)")


def test_a_page_that_outlives_the_extraction_limit_costs_only_its_own_full_text(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    result, articles = _poll(
        tmp_path,
        httpserver,
        lambda request: Response(SLOW_PAGE, content_type="text/html; charset=utf-8"),
        timeout=1.0,
        max_body_mb=60,
    )
    _check(result, articles, "extraction timed out after 1s")


def test_a_worker_killed_mid_page_costs_only_its_own_full_text(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    killed: list[int] = []

    def kill_the_worker(requested: threading.Event) -> None:
        assert requested.wait(timeout=60)
        time.sleep(1.0)  # the page is fetched and in the worker's hands (≈5 s of work)
        tree = _descendants(os.getpid())
        # The workers are the forkserver's children: processes two levels down.
        for pid, parent in tree.items():
            if parent in tree:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

    result, articles = _poll(
        tmp_path,
        httpserver,
        lambda request: Response(SLOW_PAGE, content_type="text/html; charset=utf-8"),
        max_body_mb=60,
        during=kill_the_worker,
    )
    assert killed, "no extraction worker found to kill"
    _check(result, articles, "extraction worker died")
