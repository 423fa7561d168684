"""A poll killed with SIGKILL mid-way, then run again: no duplicate, no half article."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from pytest_httpserver import HTTPServer
from sqlalchemy import create_engine, text
from werkzeug import Request, Response

from tests.sites import PARAGRAPHS, article_page, items, rss

FEEDS = 6
ITEMS = 8

pytestmark = pytest.mark.slow


def counts(db_url: str) -> dict[str, int]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            if not conn.dialect.has_table(conn, "entries"):
                return {"articles": 0, "entries": 0, "per_feed_partial": 0, "orphans": 0}
            per_feed = conn.execute(
                text("SELECT feed_id, count(*) FROM entries GROUP BY feed_id")
            ).all()
            return {
                "articles": conn.execute(text("SELECT count(*) FROM articles")).scalar_one(),
                "entries": conn.execute(text("SELECT count(*) FROM entries")).scalar_one(),
                # a feed's update is one transaction: a feed has all its entries or none
                "per_feed_partial": sum(1 for _, n in per_feed if n != ITEMS),
                "orphans": conn.execute(
                    text(
                        "SELECT count(*) FROM articles a WHERE NOT EXISTS "
                        "(SELECT 1 FROM entries e WHERE e.article_id = a.id)"
                    )
                ).scalar_one(),
                "untitled": conn.execute(
                    text("SELECT count(*) FROM articles WHERE title = '' OR text_source = ''")
                ).scalar_one(),
            }
    finally:
        engine.dispose()


def setup_site(db_url: str, httpserver: HTTPServer, tmp_path: Path) -> list[str]:
    """FEEDS feeds of ITEMS items with slow article pages; returns the poll command."""
    base = httpserver.url_for("").rstrip("/")
    feeds = []
    for f in range(FEEDS):
        feed_items = items(base, ITEMS, prefix=f"f{f}x")
        httpserver.expect_request(f"/feed{f}.xml").respond_with_data(
            rss(f"피드 {f}", feed_items), content_type="application/rss+xml"
        )
        feeds.append({"url": httpserver.url_for(f"/feed{f}.xml")})

    def slow_page(request: Request) -> Response:
        time.sleep(0.15)  # keep the poll busy long enough to be stopped in the middle
        return Response(article_page("기사", PARAGRAPHS), content_type="text/html; charset=utf-8")

    httpserver.expect_request(re.compile(r"^/article/")).respond_with_handler(slow_page)
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database": db_url,
                "fetch": {"allow_private_networks": True, "concurrency": 2, "per_host_limit": 2},
                "extract": {"workers": 1},
                "feeds": feeds,
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    return [sys.executable, "-m", "aggregator", "--config", str(config), "poll"]


def start_and_signal(command: list[str], db_url: str, sig: signal.Signals) -> tuple[int, float]:
    """Start a poll, send ``sig`` to its process group once some feeds are stored.

    Returns the exit status and the seconds from the signal to the exit."""
    env = {k: v for k, v in os.environ.items() if k != "AGGREGATOR_DATABASE_URL"}
    proc = subprocess.Popen(
        command, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            stored = counts(db_url)["entries"]
            if 0 < stored < FEEDS * ITEMS:
                break
            assert proc.poll() is None, "poll finished before it could be stopped"
            time.sleep(0.05)
        else:
            pytest.fail("the poll never stored a first feed")
        os.killpg(proc.pid, sig)
        signalled = time.monotonic()
        proc.wait(timeout=20)
        took = time.monotonic() - signalled
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode, took


def rerun_completes(command: list[str], db_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "AGGREGATOR_DATABASE_URL"}
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert counts(db_url) == {
        "articles": FEEDS * ITEMS,
        "entries": FEEDS * ITEMS,
        "per_feed_partial": 0,
        "orphans": 0,
        "untitled": 0,
    }


def test_sigkill_mid_poll_then_rerun(db_url: str, httpserver: HTTPServer, tmp_path: Path) -> None:
    command = setup_site(db_url, httpserver, tmp_path)
    assert start_and_signal(command, db_url, signal.SIGKILL)[0] == -signal.SIGKILL
    after_kill = counts(db_url)
    assert after_kill["per_feed_partial"] == 0
    assert after_kill["orphans"] == 0 and after_kill["untitled"] == 0
    assert after_kill["entries"] < FEEDS * ITEMS
    rerun_completes(command, db_url)


def test_ctrl_c_stops_promptly_then_rerun(
    db_url: str, httpserver: HTTPServer, tmp_path: Path
) -> None:
    command = setup_site(db_url, httpserver, tmp_path)
    code, took = start_and_signal(command, db_url, signal.SIGINT)
    assert code == 130
    assert took < 15, took  # a hang guard, not a speed goal: it stops, it does not finish

    after = counts(db_url)
    assert after["per_feed_partial"] == 0 and after["orphans"] == 0
    assert after["entries"] < FEEDS * ITEMS
    rerun_completes(command, db_url)
