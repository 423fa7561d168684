"""The pure function behind import opml's report; serve as an operator runs it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from aggregator.cli.exchange import import_lines
from aggregator.export.opml_import import ImportPlan, PlannedFeed, SkippedFeed


def test_import_lines_list_added_skipped_and_unmatched() -> None:
    plan = ImportPlan(
        added=(
            PlannedFeed("https://a.example/rss", "에이", ("economy",)),
            PlannedFeed("https://b.example/\x1b[2Jrss", None, ("economy", "society")),
        ),
        skipped=(SkippedFeed("nolink", "no xmlUrl"),),
        unmatched=("기타", "\x1b]8;;x\x07잡담"),
    )
    assert import_lines(plan, "config.yaml", dry_run=True) == [
        "would add 2 feeds to config.yaml:",
        "  + https://a.example/rss '에이' [economy]",
        "  + https://b.example/rss [economy, society]",
        "skipped 1:",
        "  - nolink: no xmlUrl",
        "folders/categories matching no configured tag (ignored): 기타, 잡담",
    ]


def test_import_lines_when_nothing_is_added() -> None:
    assert import_lines(ImportPlan(), "/etc/aggregator/config.yaml", dry_run=False) == [
        "added 0 feeds to /etc/aggregator/config.yaml"
    ]


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_serve_says_where_it_serves_and_that_it_stopped(
    tmp_path: Path, stop: signal.Signals
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database: sqlite:///{tmp_path}/t.db\nfeeds:\n  - url: https://news.test/rss\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if k != "AGGREGATOR_DATABASE_URL"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aggregator",
            "--config",
            str(config),
            "serve",
            "--listen",
            "127.0.0.1:0",
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        found = re.search(r"serving on (http://127\.0\.0\.1:\d+)", line)
        assert found, line
        page = httpx.get(found.group(1) + "/", trust_env=False, timeout=10)
        assert page.status_code == 200 and "/feeds/all.atom" in page.text
        time.sleep(0.2)
        proc.send_signal(stop)
        _, rest = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert f"stopped serving ({stop.name})" in rest, rest
