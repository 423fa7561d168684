"""ExtractionPool: real worker processes, real hangs and real deaths (short limits)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from aggregator.errors import ExtractError
from aggregator.ingest.extract.pool import ExtractionPool
from aggregator.models import ExtractedArticle
from tests.paths import DATA

PAGES = DATA / "pages"

pytestmark = pytest.mark.slow

# Targets must be module-level so the workers can unpickle them by name.


def hang_on_marker(body: bytes, url: str, **_: object) -> ExtractedArticle:
    if b"HANG" in body:
        time.sleep(3600)
    return ExtractedArticle(text=body.decode(), html="", source="trafilatura")


def die_on_marker(body: bytes, url: str, **_: object) -> ExtractedArticle:
    if b"EXIT" in body:
        os._exit(3)
    if b"KILL" in body:
        os.kill(os.getpid(), signal.SIGKILL)
    return ExtractedArticle(text=body.decode(), html="", source="trafilatura")


def raise_value_error(body: bytes, url: str, **_: object) -> ExtractedArticle:
    raise ValueError("boom")


def test_real_extraction_through_the_pool() -> None:
    body = (PAGES / "clean_article.html").read_bytes()
    with ExtractionPool(workers=1, timeout=30) as pool:
        article = pool.submit(body, "https://news.example.kr/a/1").result(timeout=60)
    assert article.source == "trafilatura"
    assert "호우경보" in article.text
    assert "무단전재" not in article.text


def test_hang_times_out_and_pool_keeps_working() -> None:
    with ExtractionPool(workers=1, timeout=1, target=hang_on_marker) as pool:
        hung = pool.submit(b"HANG", "https://example.com/hang")
        with pytest.raises(ExtractError, match=r"extraction timed out after 1s") as info:
            hung.result(timeout=30)
        assert info.value.url == "https://example.com/hang"
        assert pool.submit(b"next page", "https://example.com/next").result(timeout=30).text == (
            "next page"
        )


@pytest.mark.parametrize("marker", [b"KILL", b"EXIT"])
def test_dead_worker_resolves_to_extract_error(marker: bytes) -> None:
    with ExtractionPool(workers=1, timeout=10, target=die_on_marker) as pool:
        dead = pool.submit(marker, "https://example.com/dies")
        with pytest.raises(ExtractError, match=r"extraction worker died"):
            dead.result(timeout=30)
        assert pool.submit(b"after", "https://example.com/after").result(timeout=30).text == (
            "after"
        )


def test_unexpected_exception_becomes_extract_error() -> None:
    with (
        ExtractionPool(workers=1, timeout=10, target=raise_value_error) as pool,
        pytest.raises(ExtractError, match=r"ValueError: boom"),
    ):
        pool.submit(b"x", "https://example.com/x").result(timeout=30)


def test_synchronous_mode_runs_in_process() -> None:
    pool = ExtractionPool(workers=0, target=die_on_marker)
    future = pool.submit(b"inline", "https://example.com/inline")
    assert future.done()
    assert future.result().text == "inline"
    pool.close()
    with pytest.raises(RuntimeError):
        pool.submit(b"late", "https://example.com/late")


def test_synchronous_mode_wraps_errors() -> None:
    with (
        ExtractionPool(workers=0, target=raise_value_error) as pool,
        pytest.raises(ExtractError, match="boom"),
    ):
        pool.submit(b"x", "https://example.com/x").result()


def test_defaults() -> None:
    pool = ExtractionPool()  # pebble starts no process before the first task
    assert pool.workers == (os.cpu_count() or 1)
    assert pool.timeout == 20
    assert pool.max_tasks == 200
    pool.close()
