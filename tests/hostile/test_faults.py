"""Faults of the machine under the daemon's feet: a full disk, PostgreSQL restarted under two
running daemons. Real: a small tmpfs the test mounts and a PostgreSQL server the test starts
(initdb and pg_ctl on a free port; skipped with the reason where either cannot be), real SQLite
files, real daemons, real polls over loopback. (The database file removed under a running
daemon: tests/service/test_daemon.py.)"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from pytest_httpserver import HTTPServer

from tests.clirun import run
from tests.pgserver import OwnPostgres, Unavailable
from tests.service.test_daemon import (
    GRACE,
    JITTER,
    SLACK,
    STARTUP,
    TICK,
    Daemon,
    Db,
    FeedServer,
    feed_entry,
    wait_for,
    write_config,
)
from tests.sites import Item, rss

pytestmark = pytest.mark.usefixtures("isolated_cli_env")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> Path:
    """Fill ``disk`` to the last block."""
    filler = disk / "filler"
    with filler.open("wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_is_a_clear_error_loses_nothing_and_recovers(
    small_disk: Path, tmp_path: Path, httpserver: HTTPServer
) -> None:
    first = [Item(f"a{i}", f"첫 기사 {i}", f"https://news.test/a/{i}") for i in range(3)]
    more = [
        Item(f"b{i}", f"둘째 기사 {i} " + "내용 " * 200, f"https://news.test/b/{i}")
        for i in range(300)
    ]
    documents = {"body": rss("테스트일보", first)}
    httpserver.expect_request("/rss.xml").respond_with_handler(
        lambda request: __import__("werkzeug").Response(
            documents["body"], content_type="application/rss+xml"
        )
    )
    database = small_disk / "aggregator.db"
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database": f"sqlite:///{database}",
                "fetch": {"allow_private_networks": True},
                "extract": {"workers": 1},
                "feeds": [{"url": httpserver.url_for("/rss.xml"), "full_text": False}],
            }
        ),
        encoding="utf-8",
    )
    assert run("poll", "--config", str(config)).exit_code == 0

    def stored() -> set[str]:
        out = run("list", "--config", str(config), "--json", "--limit", "1000")
        assert out.exit_code == 0, out.output
        return {row["title"].split()[0] + row["title"].split()[2] for row in json.loads(out.stdout)}

    before = stored()
    assert len(before) == 3
    documents["body"] = rss("테스트일보", first + more)
    filler = _fill(small_disk)
    full = run("poll", "--config", str(config))
    # SQLite may fail as it opens (the WAL index) or as the update commits: either way the
    # poll fails with the reason, and names the full disk.
    assert full.exit_code in (1, 2), full.output
    assert f"the disk holding {database} is full" in full.output, full.output
    assert "Traceback" not in full.output
    filler.unlink()
    assert stored() == before  # nothing half-written: the update was one transaction

    again = run("poll", "--config", str(config))
    assert again.exit_code == 0, again.output
    assert len(stored()) == 303


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    try:
        server = OwnPostgres()
    except Unavailable as exc:
        pytest.skip(f"no PostgreSQL server of the test's own here: {exc}")
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.remove()


RESTART_FEEDS = 20
RESTART_PERIOD = 3.0  # min_interval = max_interval: every feed due once per period
RESTART_LEASE = 8.0
OUTAGE = 4.0


@pytest.mark.slow
def test_postgresql_restarted_under_two_daemons_loses_and_duplicates_nothing(
    own_postgres: OwnPostgres, tmp_path: Path
) -> None:
    names = [f"p{i:02d}" for i in range(RESTART_FEEDS)]
    with FeedServer() as server:
        urls = [server.add_feed(name, 2) for name in names]
        configs = [
            write_config(
                tmp_path / f"config{k}.yaml",
                own_postgres.url,
                [feed_entry(url) for url in urls],
                schedule={
                    "min_interval": f"{RESTART_PERIOD}s",
                    "max_interval": f"{RESTART_PERIOD}s",
                    "lease": f"{RESTART_LEASE}s",
                },
                fetch={"user_agent": f"daemon-{k}"},
            )
            for k in range(2)
        ]
        db = Db(own_postgres.url)
        daemons: list[Daemon] = []
        try:
            for k, config in enumerate(configs):
                daemons.append(Daemon(config, tmp_path / f"daemon{k}.log"))
                # One at a time: the first creates the schema.
                wait_for(
                    f"daemon-{k} to start",
                    lambda: "daemon started" in daemons[-1].log(),
                    STARTUP,
                    daemons=tuple(daemons),
                )
            wait_for(
                "every feed stored",
                lambda: sum(db.entries_per_feed().values()) == 2 * RESTART_FEEDS,
                STARTUP + 2 * RESTART_PERIOD + SLACK,
                daemons=tuple(daemons),
                every=0.5,
            )
            db.close()  # the test's own connections would not survive the restart either
            for name in names:
                server.publish(name)  # published before the outage, stored after it
            own_postgres.stop("fast")
            time.sleep(OUTAGE)
            own_postgres.start()
            back = time.monotonic()
            for name in names:
                server.publish(name)
            # Feeds whose update failed in the outage wait for their lease to lapse at worst.
            db = Db(own_postgres.url)
            wait_for(
                "every item stored after the restart",
                lambda: sum(db.entries_per_feed().values()) == 4 * RESTART_FEEDS,
                RESTART_LEASE + 2 * RESTART_PERIOD * (1 + JITTER) + TICK + SLACK + 5,
                daemons=tuple(daemons),
                every=0.5,
            )
            stored_at = time.monotonic()
            # One more period: both daemons go on sharing the feeds.
            wait_for(
                "a period after the restart",
                lambda: time.monotonic() > stored_at + 2 * RESTART_PERIOD,
                3 * RESTART_PERIOD,
                daemons=tuple(daemons),
            )
            for daemon in daemons:
                daemon.signal(signal.SIGTERM)
            for daemon in daemons:
                assert daemon.proc.wait(timeout=GRACE + SLACK) == 0, daemon.log()[-3000:]
        finally:
            for daemon in daemons:
                daemon.close()
            logs = [daemon.log() for daemon in daemons]
        after = [h for h in server.requests() if h.path.endswith(".xml") and h.at > back]
        agents = Counter(h.agent for h in after if h.at <= stored_at + 2 * RESTART_PERIOD)
        assert agents["daemon-0"] > 0 and agents["daemon-1"] > 0, agents
        # No lease lost for long: every feed polled again within a lease and a period.
        first_after = {h.path: h.at for h in reversed(after)}
        assert set(first_after) == {f"/{name}.xml" for name in names}
        late = {
            path: round(at - back, 1)
            for path, at in first_after.items()
            if at - back > RESTART_LEASE + RESTART_PERIOD * (1 + JITTER) + TICK + SLACK
        }
        assert late == {}, late
        assert db.integrity() == dict.fromkeys(db.integrity(), 0)
        assert db.rows("SELECT count(*) FROM articles") == [(4 * RESTART_FEEDS,)]
        db.close()
        for log in logs:
            assert "Traceback" not in log and "internal error" not in log, log[-3000:]
        # The outage is said once, in words an operator understands, and so is its end.
        for log in logs:
            said = log.count("scheduling cycle failed") + log.count("heartbeat failed")
            assert said <= 1, log[-3000:]
        assert any("the database works again after" in log for log in logs), logs[0][-2000:]
