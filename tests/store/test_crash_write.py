"""SIGKILL inside a feed's batched write: the update is whole or absent, never half.

A child process opens the store and writes one feed's update of many entries (articles,
index rows, stories, entries and tags in batches). It counts the statements the update
sends and, after the articles' batch and before the commit, tells the parent and waits: the
parent kills it there with SIGKILL. Another child does the same write to the end. The
database is then checked from outside, and the update written again must store it once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.paths import REPO_ROOT

ENTRIES = 300

CHILD = textwrap.dedent(
    """
    import os, sys, time
    sys.path.insert(0, {repo!r})
    from sqlalchemy import event
    from aggregator.store.sql import SqlStore
    from tests.store.test_sql import NOW, article, entry, write
    from aggregator.models import TagAssignment

    url, stop = sys.argv[1], sys.argv[2] == "stop"
    store = SqlStore.open(url)
    store.sync_feeds([("https://news.example/rss", None)], NOW)
    feed = store.feed_state("https://news.example/rss")
    update = write(*[
        entry(
            f"https://news.example/a/{{i}}",
            article(
                f"https://news.example/a/{{i}}",
                f"기사 {{i}} 제목",
                tags=(TagAssignment("politics", "rule", 0.3, "국회@title"),),
            ),
        )
        for i in range({entries})
    ])

    @event.listens_for(store.engine, "after_cursor_execute")
    def halt(conn, cursor, statement, *args):
        # The tags are the last batch: the articles, their index rows and the entries are
        # in the transaction, the tags and the commit are not.
        if stop and statement.lstrip().upper().startswith("INSERT INTO ARTICLE_TAGS"):
            print("inside", flush=True)
            time.sleep(60)

    print(store.store_update(feed.id, update), flush=True)
    """
)


def _run_child(url: str, *, stop: bool) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "AGGREGATOR_DATABASE_URL"}
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD.format(repo=str(REPO_ROOT), entries=ENTRIES),
            url,
            "stop" if stop else "run",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )


def _counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in ("articles", "entries", "article_tags", "story_articles")
            }
    finally:
        engine.dispose()


@pytest.mark.slow
def test_sigkill_inside_a_batched_write_leaves_the_update_whole_or_absent(
    db_url: str, tmp_path: Path
) -> None:
    child = _run_child(db_url, stop=True)
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line.strip() == "inside", line + (child.stderr.read() if child.stderr else "")
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert _counts(db_url) == {
        "articles": 0,
        "entries": 0,
        "article_tags": 0,
        "story_articles": 0,
    }, "a killed write left part of the update"

    # The same update again, to the end: all of it, once.
    done = _run_child(db_url, stop=False)
    out, err = done.communicate(timeout=120)
    assert done.returncode == 0, err
    assert f"new={ENTRIES}" in out, out
    whole = _counts(db_url)
    assert whole["articles"] == whole["entries"] == whole["article_tags"] == ENTRIES

    # And once more: a restart never duplicates.
    again = _run_child(db_url, stop=False)
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert "new=0" in out, out
    assert _counts(db_url) == whole
