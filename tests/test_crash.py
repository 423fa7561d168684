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

from .sites import PARAGRAPHS, article_page, items, rss

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


def test_sigkill_mid_poll_then_rerun(db_url: str, httpserver: HTTPServer, tmp_path: Path) -> None:
    base = httpserver.url_for("").rstrip("/")
    feeds = []
    for f in range(FEEDS):
        feed_items = items(base, ITEMS, prefix=f"f{f}x")
        httpserver.expect_request(f"/feed{f}.xml").respond_with_data(
            rss(f"피드 {f}", feed_items), content_type="application/rss+xml"
        )
        feeds.append({"url": httpserver.url_for(f"/feed{f}.xml")})

    def slow_page(request: Request) -> Response:
        time.sleep(0.15)  # keep the poll busy long enough to be killed in the middle
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
    env = {k: v for k, v in os.environ.items() if k != "AGGREGATOR_DATABASE_URL"}
    command = [sys.executable, "-m", "aggregator", "--config", str(config), "poll"]

    proc = subprocess.Popen(
        command, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    try:
        # Kill once at least one feed is stored and at least one is not.
        while time.monotonic() < deadline:
            stored = counts(db_url)["entries"]
            if 0 < stored < FEEDS * ITEMS:
                break
            assert proc.poll() is None, "poll finished before it could be killed"
            time.sleep(0.05)
        else:
            pytest.fail("the poll never stored a first feed")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL

    after_kill = counts(db_url)
    assert after_kill["per_feed_partial"] == 0
    assert after_kill["orphans"] == 0 and after_kill["untitled"] == 0
    assert after_kill["entries"] < FEEDS * ITEMS

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    final = counts(db_url)
    assert final == {
        "articles": FEEDS * ITEMS,
        "entries": FEEDS * ITEMS,
        "per_feed_partial": 0,
        "orphans": 0,
        "untitled": 0,
    }
