"""``aggregator run`` as a subprocess against a loopback feed server whose feeds change.

Each test starts the real daemon (``python -m aggregator --config CFG run``) in a session of
its own, talks to it only as an operator would (config file, signals, the database, the
``status`` command) and watches it from the server side: every request the daemon makes is
in :class:`FeedServer`'s log, with the time it arrived and its conditional headers. Every
wait is bounded by a deadline computed from the schedule in the test's config.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from sqlalchemy import Engine, create_engine, text

from tests.sites import PARAGRAPHS, Item, article_page, rss

pytestmark = pytest.mark.slow

T = TypeVar("T")

# The schedule most tests run with: short enough for a test, long enough for a busy machine.
MIN_INTERVAL = 1.0
MAX_INTERVAL = 3.0
TICK = 0.5
JITTER = 0.1
GRACE = 5.0
# Scheduling and processing latency allowed on top of what the policy promises (a loaded
# 2-core machine running PostgreSQL and the feed server as well).
SLACK = 3.0
# Interpreter start, migrations, extraction pool: until the daemon's first cycle.
STARTUP = 20.0


# -- the feed server ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hit:
    at: float  # time.monotonic() when the request arrived
    path: str
    status: int
    if_none_match: str | None
    if_modified_since: str | None
    agent: str


@dataclass
class Feed:
    name: str
    items: list[Item]
    status: int = 200
    retry_after: str | None = None
    version: int = 0
    modified: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))

    @property
    def etag(self) -> str:
        return f'"{self.name}-v{self.version}"'


class FeedServer:
    """RSS feeds with ETag/Last-Modified (304 on a match), switchable error statuses, slow
    article pages, and a log of every request."""

    def __init__(self) -> None:
        self.feeds: dict[str, Feed] = {}
        self.hits: list[Hit] = []
        self.page_delay = 0.0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, headers, body = server._respond(self)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.request_queue_size = 256
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- content

    def add_feed(self, name: str, count: int, *, age: timedelta = timedelta(hours=1)) -> str:
        """A feed of ``count`` items published over the ``age`` before now; its URL."""
        now = datetime.now(UTC).replace(microsecond=0)
        step = age / max(count, 1)
        with self._lock:
            self.feeds[f"/{name}.xml"] = Feed(
                name, [self._item(name, i, now - age + step * i) for i in range(count)]
            )
        return self.url(name)

    def url(self, name: str) -> str:
        return f"{self.base}/{name}.xml"

    def _item(self, name: str, i: int, when: datetime) -> Item:
        return Item(
            guid=f"{name}-{i}",
            title=f"경제정책 방향 확정 {name} {i}번째 기사",
            link=f"{self.base}/article/{name}/{i}",
            published=when,
        )

    def publish(self, name: str) -> None:
        with self._lock:
            feed = self.feeds[f"/{name}.xml"]
            now = datetime.now(UTC).replace(microsecond=0)
            feed.items.append(self._item(name, len(feed.items), now))
            feed.version += 1
            feed.modified = now

    def set_status(self, name: str, status: int, retry_after: str | None = None) -> None:
        with self._lock:
            feed = self.feeds[f"/{name}.xml"]
            feed.status, feed.retry_after = status, retry_after

    def published(self, name: str) -> int:
        with self._lock:
            return len(self.feeds[f"/{name}.xml"].items)

    # -- the log

    def requests(self, name: str | None = None, *, since: float = 0.0) -> list[Hit]:
        path = None if name is None else f"/{name}.xml"
        with self._lock:
            return [h for h in self.hits if h.at >= since and (path is None or h.path == path)]

    def _respond(self, handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        path = handler.path
        arrived = time.monotonic()
        inm = handler.headers.get("If-None-Match")
        ims = handler.headers.get("If-Modified-Since")
        agent = handler.headers.get("User-Agent", "")
        if path.startswith("/article/"):
            if self.page_delay:
                time.sleep(self.page_delay)
            status, headers, body = (
                200,
                {"Content-Type": "text/html; charset=utf-8"},
                article_page(f"기사 {path}", PARAGRAPHS).encode(),
            )
        else:
            with self._lock:
                feed = self.feeds.get(path)
                if feed is None:
                    status, headers, body = 404, {}, b"not found"
                elif feed.status != 200:
                    status, headers, body = feed.status, {}, b"unavailable"
                    if feed.retry_after is not None:
                        headers["Retry-After"] = feed.retry_after
                else:
                    modified = format_datetime(feed.modified, usegmt=True)
                    headers = {"ETag": feed.etag, "Last-Modified": modified}
                    if inm == feed.etag or (inm is None and ims == modified):
                        status, body = 304, b""
                    else:
                        status = 200
                        headers["Content-Type"] = "application/rss+xml; charset=utf-8"
                        body = rss(f"피드 {feed.name}", list(feed.items)).encode()
        with self._lock:
            self.hits.append(Hit(arrived, path, status, inm, ims, agent))
        return status, headers, body


# -- the daemon -----------------------------------------------------------------------------


def write_config(
    path: Path,
    db_url: str,
    feeds: list[dict[str, Any]],
    *,
    schedule: dict[str, str] | None = None,
    fetch: dict[str, Any] | None = None,
) -> Path:
    config = {
        "database": db_url,
        "fetch": {"allow_private_networks": True, **(fetch or {})},
        "extract": {"workers": 1},
        "schedule": {
            "min_interval": f"{MIN_INTERVAL}s",
            "max_interval": f"{MAX_INTERVAL}s",
            "tick": f"{TICK}s",
            "shutdown_grace": f"{GRACE}s",
            "lease": "10s",
            "jitter": JITTER,
            **(schedule or {}),
        },
        "feeds": feeds,
    }
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def feed_entry(url: str, *, full_text: bool = False) -> dict[str, Any]:
    return {"url": url, "full_text": full_text}


ENV = {k: v for k, v in os.environ.items() if k not in ("AGGREGATOR_DATABASE_URL", "NOTIFY_SOCKET")}


class Daemon:
    """One ``aggregator run`` in a session of its own; output goes to a file (a pipe that
    nobody reads would fill up and block the daemon)."""

    def __init__(self, config: Path, log: Path) -> None:
        self.log_path = log
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "aggregator", "--config", str(config), "run"],
            env=ENV,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: signal.Signals) -> float:
        """Send ``sig`` to the main process only (systemd's KillMode=mixed); when it was sent."""
        os.kill(self.proc.pid, sig)
        return time.monotonic()

    def kill_group(self) -> float:
        """SIGKILL the daemon and its extraction workers at once (a crash, the OOM killer)."""
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        when = time.monotonic()
        self.proc.wait(timeout=30)
        return when

    def group_gone(self) -> bool:
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            return True
        return False

    def close(self) -> None:
        if not self.group_gone():
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=30)
        self._log.close()


@contextmanager
def running(config: Path, log: Path) -> Iterator[Daemon]:
    daemon = Daemon(config, log)
    try:
        yield daemon
    finally:
        daemon.close()


def wait_for(
    what: str,
    check: Callable[[], T | None],
    timeout: float,
    *,
    daemons: tuple[Daemon, ...] = (),
    every: float = 0.1,
) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds, or
    at once if one of ``daemons`` died."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        for daemon in daemons:
            if not daemon.alive():
                pytest.fail(
                    f"daemon exited ({daemon.proc.returncode}) while waiting for {what}:\n"
                    + daemon.log()[-3000:]
                )
        if time.monotonic() > deadline:
            logs = "\n".join(d.log()[-3000:] for d in daemons)
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n{logs}")
        time.sleep(every)


def status_json(config: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "aggregator", "--config", str(config), "status", "--json"],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


# -- the database ---------------------------------------------------------------------------


class Db:
    def __init__(self, url: str) -> None:
        self.engine: Engine = create_engine(url)

    def close(self) -> None:
        self.engine.dispose()

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with self.engine.connect() as conn:
            if not conn.dialect.has_table(conn, "entries"):
                return []
            return [tuple(r) for r in conn.execute(text(sql)).all()]

    def entries_per_feed(self) -> dict[str, int]:
        """Stored entries by feed URL (feeds with none are absent)."""
        return dict(
            self.rows(
                "SELECT f.url, count(*) FROM entries e JOIN feeds f ON f.id = e.feed_id "
                "GROUP BY f.url"
            )
        )

    def stored(self, url: str) -> int:
        return self.entries_per_feed().get(url, 0)

    def feed(self, url: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(text("SELECT * FROM feeds WHERE url = :u"), {"u": url}).mappings()
            return dict(row.one())

    def integrity(self) -> dict[str, int]:
        """What must be zero whatever happened to the daemon."""
        checks = {
            "orphan_articles": "SELECT count(*) FROM articles a WHERE NOT EXISTS "
            "(SELECT 1 FROM entries e WHERE e.article_id = a.id)",
            "duplicate_entries": "SELECT count(*) FROM (SELECT feed_id, entry_key FROM entries "
            "GROUP BY feed_id, entry_key HAVING count(*) > 1) d",
            "duplicate_articles": "SELECT count(*) FROM (SELECT url FROM articles "
            "GROUP BY url HAVING count(*) > 1) d",
            "untitled": "SELECT count(*) FROM articles WHERE title = '' OR text_source = ''",
        }
        return {name: (self.rows(sql) or [(0,)])[0][0] for name, sql in checks.items()}


@pytest.fixture
def db(db_url: str) -> Iterator[Db]:
    database = Db(db_url)
    try:
        yield database
    finally:
        database.close()


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as feed_server:
        yield feed_server


# How long a feed can go unpolled while the daemon is healthy: its longest jittered interval,
# the wait for the next tick, and slack.
ONE_INTERVAL = MAX_INTERVAL * (1 + JITTER) + TICK + SLACK


# -- 1 & 8: new items within one interval; status -------------------------------------------


def test_new_items_stored_within_one_interval_and_status(
    db_url: str, db: Db, server: FeedServer, tmp_path: Path
) -> None:
    urls = [server.add_feed(f"n{i}", 3) for i in range(2)]
    config = write_config(tmp_path / "config.yaml", db_url, [feed_entry(u) for u in urls])
    with running(config, tmp_path / "daemon.log") as daemon:
        # Never-polled feeds are spread over at most max_interval at start-up.
        wait_for(
            "the first poll of every feed",
            lambda: all(db.stored(u) == 3 for u in urls),
            STARTUP + ONE_INTERVAL,
            daemons=(daemon,),
        )
        status = status_json(config)
        assert status["daemon_alive"] is True
        assert [i["alive"] for i in status["instances"]] == [True]
        assert 0 <= status["feeds_due"] <= len(urls)
        assert status["counts"] == {"feeds": 2, "articles": 6, "entries": 6}
        assert status["last_cycle"] is not None

        for expected in (4, 5):
            for name in ("n0", "n1"):
                server.publish(name)
            published = time.monotonic()
            wait_for(
                f"the new items ({expected} per feed)",
                lambda n=expected: all(db.stored(u) == n for u in urls),
                ONE_INTERVAL,
                daemons=(daemon,),
            )
            took = time.monotonic() - published
            assert took <= ONE_INTERVAL, took

        daemon.signal(signal.SIGTERM)
        assert daemon.proc.wait(timeout=GRACE + SLACK) == 0, daemon.log()
    status = status_json(config)
    assert status["daemon_alive"] is False
    assert status["instances"][0]["stopped"] is not None
    assert status["counts"]["articles"] == 10
    assert db.integrity() == dict.fromkeys(db.integrity(), 0)


# -- 2: SIGHUP --------------------------------------------------------------------------------


def test_sighup_adds_and_removes_feeds_and_survives_a_bad_config(
    db_url: str, db: Db, server: FeedServer, tmp_path: Path
) -> None:
    kept, removed, added = (server.add_feed(n, 2) for n in ("keep", "gone", "new"))
    config = tmp_path / "config.yaml"
    write_config(config, db_url, [feed_entry(kept), feed_entry(removed)])
    with running(config, tmp_path / "daemon.log") as daemon:
        wait_for(
            "the first poll",
            lambda: db.stored(kept) == 2 and db.stored(removed) == 2,
            STARTUP + ONE_INTERVAL,
            daemons=(daemon,),
        )
        assert not server.requests("new")

        write_config(config, db_url, [feed_entry(kept), feed_entry(added)])
        reloaded = daemon.signal(signal.SIGHUP)
        # A feed added by a reload is due at once.
        wait_for(
            "the added feed's articles",
            lambda: db.stored(added) == 2,
            TICK + SLACK,
            daemons=(daemon,),
        )
        assert "config reloaded" in daemon.log()

        # A broken config: logged, the running one kept, polling goes on.
        config.write_text("schedule:\n  min_interval: banana\nfeeds: [\n", encoding="utf-8")
        broken = daemon.signal(signal.SIGHUP)
        wait_for("the reload error", lambda: "config reload failed" in daemon.log(), 5)
        wait_for(
            "two more polls of each configured feed after the bad reload",
            lambda: all(len(server.requests(n, since=broken)) >= 2 for n in ("keep", "new")),
            2 * ONE_INTERVAL,
            daemons=(daemon,),
        )
        # A poll of the removed feed already in flight at the reload may finish; none after.
        late = [h for h in server.requests("gone") if h.at > reloaded + 1.0]
        assert late == [], late
        assert db.stored(removed) == 2  # its articles stay
        assert db.feed(removed)["active"] in (False, 0)

        daemon.signal(signal.SIGTERM)
        assert daemon.proc.wait(timeout=GRACE + SLACK) == 0, daemon.log()


# -- 3: SIGTERM and SIGKILL mid-cycle, then a restart ---------------------------------------

SLOW_FEEDS = 6
SLOW_ITEMS = 5


def slow_site(
    server: FeedServer, tmp_path: Path, db_url: str, *, lease: str = "3s"
) -> tuple[Path, list[str]]:
    """Full-text feeds whose article pages are slow: a cycle takes seconds."""
    server.page_delay = 0.25
    urls = [server.add_feed(f"slow{i}", SLOW_ITEMS) for i in range(SLOW_FEEDS)]
    config = write_config(
        tmp_path / "config.yaml",
        db_url,
        [feed_entry(u, full_text=True) for u in urls],
        schedule={"lease": lease},
    )
    return config, urls


def assert_all_or_nothing(db: Db, urls: list[str]) -> int:
    """Every feed has all its entries or none (one transaction per update); nothing
    half-written. Returns the number of feeds stored."""
    per_feed = db.entries_per_feed()
    assert all(per_feed.get(u, 0) in (0, SLOW_ITEMS) for u in urls), per_feed
    assert db.integrity() == dict.fromkeys(db.integrity(), 0)
    return sum(1 for u in urls if per_feed.get(u))


def restart_completes(config: Path, tmp_path: Path, db: Db, urls: list[str]) -> None:
    with running(config, tmp_path / "restart.log") as daemon:
        wait_for(
            "the restart to store every feed",
            lambda: all(db.stored(u) == SLOW_ITEMS for u in urls),
            # leases of a killed daemon expire (3 s), then one cycle over slow pages
            STARTUP + 3 + ONE_INTERVAL + 30,
            daemons=(daemon,),
        )
        daemon.signal(signal.SIGTERM)
        assert daemon.proc.wait(timeout=GRACE + SLACK) == 0, daemon.log()
    assert db.rows("SELECT count(*) FROM articles") == [(SLOW_FEEDS * SLOW_ITEMS,)]
    assert db.rows("SELECT count(*) FROM entries") == [(SLOW_FEEDS * SLOW_ITEMS,)]
    assert_all_or_nothing(db, urls)


def mid_cycle(db: Db, server: FeedServer, urls: list[str], daemon: Daemon) -> None:
    """Wait until the daemon stored some feeds, not all, and is fetching article pages."""

    def busy() -> bool:
        stored = sum(1 for n in db.entries_per_feed().values() if n)
        return 0 < stored < len(urls) - 2

    wait_for(
        "the middle of the first cycle",
        busy,
        STARTUP + ONE_INTERVAL + 30,
        daemons=(daemon,),
        every=0.05,
    )


def test_sigterm_mid_cycle_exits_cleanly_and_restart_completes(
    db_url: str, db: Db, server: FeedServer, tmp_path: Path
) -> None:
    config, urls = slow_site(server, tmp_path, db_url)
    with running(config, tmp_path / "daemon.log") as daemon:
        mid_cycle(db, server, urls, daemon)
        pages_before = len([h for h in server.hits if h.path.startswith("/article/")])
        assert pages_before > 0
        sent = daemon.signal(signal.SIGTERM)
        code = daemon.proc.wait(timeout=GRACE + SLACK)
        took = time.monotonic() - sent
        assert code == 0, daemon.log()
        assert took <= GRACE + SLACK, took
        # The extraction workers went with it.
        wait_for("the daemon's workers to exit", daemon.group_gone, 10)
        log = daemon.log()
        assert "daemon stopped" in log
    stored = assert_all_or_nothing(db, urls)
    assert stored < len(urls), "the cycle was over before the signal: nothing was tested"
    restart_completes(config, tmp_path, db, urls)


def test_sigkill_mid_cycle_then_restart_completes(
    db_url: str, db: Db, server: FeedServer, tmp_path: Path
) -> None:
    # On SQLite the restarted daemon holds the lock, so the dead one's leases are released at
    # once: a lease of 10 minutes must not delay the restart. On PostgreSQL other instances
    # may be alive, so the restart waits for the (short) leases to expire.
    sqlite = db_url.startswith("sqlite")
    config, urls = slow_site(server, tmp_path, db_url, lease="10m" if sqlite else "3s")
    with running(config, tmp_path / "daemon.log") as daemon:
        mid_cycle(db, server, urls, daemon)
        daemon.kill_group()
    stored = assert_all_or_nothing(db, urls)
    assert stored < len(urls)
    restart_completes(config, tmp_path, db, urls)


# -- 4: back-off on errors, Retry-After -----------------------------------------------------


def max_requests_with_backoff(window: float, policy: dict[str, float]) -> int:
    """The most requests an erroring feed may get in ``window`` seconds from its first one:
    waits are min_interval, 2x, 4x ... capped at error_cap, each at least (1 - jitter) of
    itself."""
    m, cap, jitter = policy["min_interval"], policy["error_cap"], policy["jitter"]
    requests, elapsed, errors = 1, 0.0, 1
    while True:
        elapsed += min(m * 2 ** (errors - 1), cap) * (1 - jitter)
        if elapsed > window:
            return requests
        requests += 1
        errors += 1


def test_errors_back_off_and_recover_and_retry_after_is_honoured(
    server: FeedServer, tmp_path: Path
) -> None:
    db_url = f"sqlite:///{tmp_path / 'aggregator.db'}"
    db = Db(db_url)
    policy = {"min_interval": MIN_INTERVAL, "error_cap": 4.0, "jitter": JITTER}
    failing = server.add_feed("failing", 2)
    limited = server.add_feed("limited", 2)
    server.set_status("failing", 500)
    server.set_status("limited", 429, retry_after="4")
    config = write_config(
        tmp_path / "config.yaml",
        db_url,
        [feed_entry(failing), feed_entry(limited)],
        schedule={"error_cap": "4s"},
    )
    window = 10.0
    with running(config, tmp_path / "daemon.log") as daemon:
        first_limited = wait_for(
            "the first request of the rate-limited feed",
            lambda: server.requests("limited"),
            STARTUP + ONE_INTERVAL,
            daemons=(daemon,),
        )[0]
        server.set_status("limited", 200)
        first = wait_for(
            "the first request of the failing feed",
            lambda: server.requests("failing"),
            STARTUP + ONE_INTERVAL,
            daemons=(daemon,),
        )[0]
        wait_for(
            "the back-off window to pass",
            lambda: time.monotonic() > first.at + window,
            window + 1,
            daemons=(daemon,),
        )
        in_window = [h for h in server.requests("failing") if h.at <= first.at + window]
        bound = max_requests_with_backoff(window, policy)
        without_backoff = int(window / (MIN_INTERVAL * (1 - JITTER))) + 1
        assert all(h.status == 500 for h in in_window)
        assert 3 <= len(in_window) <= bound < without_backoff, (len(in_window), bound)
        row = db.feed(failing)
        assert row["error_count"] >= 3 and "500" in (row["last_error"] or "")

        # Retry-After: 4 on the first answer: no request to that feed for 4 seconds.
        limited_hits = wait_for(
            "the rate-limited feed's retry",
            lambda: server.requests("limited")[1:],
            4 + ONE_INTERVAL,
            daemons=(daemon,),
        )
        gap = limited_hits[0].at - first_limited.at
        assert gap >= 4.0 - 0.05, gap
        wait_for("the rate-limited feed's items", lambda: db.stored(limited) == 2, ONE_INTERVAL)

        # The server recovers: so does the feed, within one capped back-off.
        server.set_status("failing", 200)
        recovered = time.monotonic()
        wait_for(
            "the failing feed to recover",
            lambda: db.stored(failing) == 2,
            policy["error_cap"] * (1 + JITTER) + TICK + SLACK,
            daemons=(daemon,),
        )
        assert time.monotonic() - recovered <= policy["error_cap"] * (1 + JITTER) + TICK + SLACK
        assert db.feed(failing)["error_count"] == 0
        daemon.signal(signal.SIGTERM)
        assert daemon.proc.wait(timeout=GRACE + SLACK) == 0
    db.close()


# -- 5: unchanged feeds: conditional requests, 304s, only fetch state written ---------------

# Columns of `feeds` that record polling, not content: the only ones a 304 may touch.
FETCH_STATE = {
    "etag",
    "last_modified",
    "last_checked_at",
    "last_success_at",
    "last_status",
    "last_http_status",
    "last_error",
    "error_count",
    "last_new",
    "last_duration_ms",
    "next_check_at",
    "interval_seconds",
    "gone",
    "fetch_url",
    "redirect_candidate",
    "redirect_streak",
    "lease_owner",
    "lease_until",
}


def content_snapshot(db: Db) -> dict[str, Any]:
    with db.engine.connect() as conn:
        tables: dict[str, Any] = {
            name: sorted(tuple(r) for r in conn.execute(text(f"SELECT * FROM {name}")).all())
            for name in ("articles", "entries", "article_tags", "entry_tombstones")
        }
        feeds = conn.execute(text("SELECT * FROM feeds ORDER BY id")).mappings().all()
        tables["feeds"] = [{k: v for k, v in r.items() if k not in FETCH_STATE} for r in feeds]
    return tables


def test_unchanged_feeds_get_conditional_requests_and_write_only_fetch_state(
    db_url: str, db: Db, server: FeedServer, tmp_path: Path
) -> None:
    names = [f"same{i}" for i in range(3)]
    urls = [server.add_feed(n, 4) for n in names]
    config = write_config(tmp_path / "config.yaml", db_url, [feed_entry(u) for u in urls])
    with running(config, tmp_path / "daemon.log") as daemon:
        wait_for(
            "the first poll",
            lambda: all(db.stored(u) == 4 for u in urls),
            STARTUP + ONE_INTERVAL,
            daemons=(daemon,),
        )
        # Settle: the first poll's write is the last content write.
        time.sleep(0.5)
        before = content_snapshot(db)
        checked = {u: db.feed(u)["last_checked_at"] for u in urls}
        since = time.monotonic()

        def two_more_cycles() -> list[Hit] | None:
            hits = server.requests(since=since)
            polls = Counter(h.path for h in hits)
            return hits if all(polls[f"/{n}.xml"] >= 2 for n in names) else None

        later = wait_for(
            "two more cycles over every feed", two_more_cycles, 2 * ONE_INTERVAL, daemons=(daemon,)
        )
        wait_for(
            "the 304s to be recorded",
            lambda: all(
                db.feed(u)["last_http_status"] == 304
                and db.feed(u)["last_checked_at"] != checked[u]
                for u in urls
            ),
            ONE_INTERVAL,
            daemons=(daemon,),
        )
        after = content_snapshot(db)
        daemon.signal(signal.SIGTERM)
        assert daemon.proc.wait(timeout=GRACE + SLACK) == 0
    assert later
    assert all(h.if_none_match and h.if_modified_since for h in later), later
    assert {h.status for h in later} == {304}
    assert after == before


# -- 6: one daemon per SQLite file --------------------------------------------------------


def test_second_daemon_on_one_sqlite_file_is_refused(server: FeedServer, tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'aggregator.db'}"
    url = server.add_feed("solo", 2)
    config = write_config(tmp_path / "config.yaml", db_url, [feed_entry(url)])
    with running(config, tmp_path / "first.log") as first:
        wait_for(
            "the first daemon's first poll",
            lambda: server.requests("solo"),
            STARTUP + ONE_INTERVAL,
            daemons=(first,),
        )
        second = subprocess.run(
            [sys.executable, "-m", "aggregator", "--config", str(config), "run"],
            env=ENV,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 2, second.stdout + second.stderr
        assert "another `aggregator run`" in second.stderr
        assert f"pid {first.pid}" in second.stderr
        assert "PostgreSQL" in second.stderr
        refused = time.monotonic()
        wait_for(
            "the first daemon to poll again",
            lambda: server.requests("solo", since=refused),
            ONE_INTERVAL,
            daemons=(first,),
        )
        status = status_json(config)
        assert [i["pid"] for i in status["instances"]] == [first.pid]
        first.signal(signal.SIGTERM)
        assert first.proc.wait(timeout=GRACE + SLACK) == 0


def test_the_database_file_removed_under_the_daemon_stops_it_with_status_1(
    server: FeedServer, tmp_path: Path
) -> None:
    """SQLite keeps writing into an unlinked file: every article stored after an `rm` of the
    database (a cleanup script, a restore gone wrong) was lost at exit. The daemon notices at
    its next heartbeat and exits 1, so that systemd restarts it on the file that is there."""
    database = tmp_path / "aggregator.db"
    url = server.add_feed("solo", 2)
    config = write_config(tmp_path / "config.yaml", f"sqlite:///{database}", [feed_entry(url)])
    with running(config, tmp_path / "daemon.log") as daemon:
        wait_for(
            "the daemon's first poll",
            lambda: server.requests("solo"),
            STARTUP + ONE_INTERVAL,
            daemons=(daemon,),
        )
        for path in tmp_path.glob("aggregator.db*"):
            if not path.name.endswith(".lock"):
                path.unlink()
        # One heartbeat (10 s) and the shutdown grace.
        assert daemon.proc.wait(timeout=10 + GRACE + SLACK + 5) == 1, daemon.log()[-2000:]
        # "removed", or "replaced" when a new connection of the pool created an empty file
        # at the path first; either way the daemon stopped instead of writing on.
        log = daemon.log()
        assert (
            f"the database file {database} was removed" in log
            or f"the database file {database} was replaced" in log
        ), log[-2000:]


# -- 7: several daemons on PostgreSQL share the work ----------------------------------------

MANY_FEEDS = 200
PERIOD = 5.0  # min_interval = max_interval: every feed is due exactly once per period
# Short for the takeover after the kill, yet longer than a poll stalls on a loaded 2-CPU
# machine running three daemons, PostgreSQL and the server: at 3 s, a poll's lease sometimes
# lapsed between two ticks and another daemon rightly took the feed over.
SHORT_LEASE = 8.0


@pytest.mark.postgres
def test_three_daemons_share_feeds_on_postgresql(
    postgres_database: str, server: FeedServer, tmp_path: Path
) -> None:
    import uuid

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_database, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    from sqlalchemy.engine import make_url

    db_url = (
        make_url(postgres_database)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    db = Db(db_url)
    names = [f"m{i:03d}" for i in range(MANY_FEEDS)]
    urls = [server.add_feed(n, 2, age=timedelta(days=30)) for n in names]
    configs = []
    for k in range(3):
        configs.append(
            write_config(
                tmp_path / f"config{k}.yaml",
                db_url,
                [feed_entry(u) for u in urls],
                schedule={
                    "min_interval": f"{PERIOD}s",
                    "max_interval": f"{PERIOD}s",
                    "lease": f"{SHORT_LEASE}s",
                },
                fetch={"user_agent": f"daemon-{k}"},
            )
        )
    daemons: list[Daemon] = []
    try:
        for k, config in enumerate(configs):
            daemons.append(Daemon(config, tmp_path / f"daemon{k}.log"))
            if k == 0:
                # The first creates the schema; instances started at the very same moment on
                # an empty database race in the migrations (reported, not this test's topic).
                wait_for(
                    "the first daemon to start",
                    lambda: "daemon started" in daemons[0].log(),
                    STARTUP,
                    daemons=(daemons[0],),
                )
        # Shares are measured from the moment all three are cycling: on a loaded machine the
        # later two may take seconds to start, and daemon-0 polls everything meanwhile.
        for daemon in daemons[1:]:
            wait_for(
                "every daemon to start",
                lambda daemon=daemon: "daemon started" in daemon.log(),
                STARTUP,
                daemons=tuple(daemons),
            )
        wait_for(
            "every feed stored",
            lambda: len(db.entries_per_feed()) == MANY_FEEDS,
            STARTUP + 2 * PERIOD + 20,
            daemons=tuple(daemons),
            every=0.5,
        )
        start = time.monotonic()
        wait_for("two due periods", lambda: time.monotonic() > start + 2 * PERIOD, 3 * PERIOD)
        killed_at = daemons[0].kill_group()
        takeover = killed_at + SHORT_LEASE
        wait_for(
            "every feed polled after the kill",
            lambda: (
                {h.path for h in server.requests(since=takeover)} >= {f"/{n}.xml" for n in names}
            ),
            SHORT_LEASE + PERIOD * (1 + JITTER) + TICK + SLACK + 5,
            daemons=tuple(daemons[1:]),
            every=0.5,
        )
        # One more period with the two survivors.
        all_polled = time.monotonic()
        wait_for(
            "a period after the takeover",
            lambda: time.monotonic() > all_polled + PERIOD * (1 + JITTER) + TICK,
            3 * PERIOD,
            daemons=tuple(daemons[1:]),
        )
        stopping = time.monotonic()
        for daemon in daemons[1:]:
            daemon.signal(signal.SIGTERM)
        for daemon in daemons[1:]:
            assert daemon.proc.wait(timeout=GRACE + SLACK) == 0, daemon.log()[-3000:]
        hits = [h for h in server.requests() if h.path.endswith(".xml")]
        by_feed: dict[str, list[Hit]] = defaultdict(list)
        for hit in hits:
            by_feed[hit.path].append(hit)
        shortest = PERIOD * (1 - JITTER) - 0.05
        too_soon: list[dict[str, object]] = []
        for path, feed_hits in by_feed.items():
            for a, b in pairwise(feed_hits):
                # The killed daemon's last polls may be retried once its lease expired.
                interrupted = a.agent == "daemon-0" and a.at <= killed_at < b.at
                if b.at - a.at < shortest and not interrupted:
                    too_soon.append(
                        {
                            "feed": path,
                            "agents": (a.agent, b.agent),
                            "gap": round(b.at - a.at, 2),
                            "after start": round(a.at - start, 2),
                            "kill after start": round(killed_at - start, 2),
                        }
                    )
        assert too_soon == [], too_soon[:20]
        # Every feed polled in every period, before and after the kill: no gap longer than
        # its jittered period plus scheduling latency, except across the kill, where the
        # killed daemon's leases had to expire first.
        longest = PERIOD * (1 + JITTER) + TICK + SLACK
        too_late = []
        for path, feed_hits in by_feed.items():
            times = [h.at for h in feed_hits if h.at >= start] + [stopping]
            for a_at, b_at in pairwise(times):
                allowed = longest + (SHORT_LEASE if a_at <= killed_at < b_at else 0)
                if b_at - a_at > allowed:
                    too_late.append((path, round(b_at - a_at, 2)))
        assert too_late == [], too_late[:20]
        # Each daemon did a share of the work; after the kill, daemon-0 did none.
        agents = Counter(h.agent for h in hits if start <= h.at <= killed_at)
        # Each polls its own share first (feed id modulo the live instances), so the shares
        # are near a third each; whoever finished a feed first used to take nearly all.
        assert all(agents[f"daemon-{k}"] > sum(agents.values()) / 6 for k in range(3)), agents
        assert not [h for h in hits if h.at > killed_at + 0.5 and h.agent == "daemon-0"]
        survivors = Counter(h.agent for h in hits if h.at > takeover)
        assert set(survivors) == {"daemon-1", "daemon-2"}, survivors
        # No duplicate rows: two items per feed, each stored once.
        assert db.rows("SELECT count(*) FROM entries") == [(2 * MANY_FEEDS,)]
        assert db.rows("SELECT count(*) FROM articles") == [(2 * MANY_FEEDS,)]
        assert db.integrity() == dict.fromkeys(db.integrity(), 0)
    finally:
        for daemon in daemons:
            daemon.close()
        db.close()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_a_database_outage_is_said_once_a_minute_and_its_end_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from aggregator.errors import StoreError
    from aggregator.service.daemon import StoreOutage

    outage = StoreOutage(every=60.0)
    caplog.set_level("INFO", logger="aggregator.service.daemon")
    outage.succeeded(0.0)  # nothing to say while it works
    for second in range(0, 150, 2):  # a tick every 2 s for 150 s
        outage.failed("scheduling cycle failed", StoreError("connection refused"), float(second))
    outage.succeeded(150.0)
    outage.succeeded(152.0)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "scheduling cycle failed: connection refused (retried every tick; said again once a "
        "minute)",
        "scheduling cycle failed: connection refused (failing for 60 s, 31 failures)",
        "scheduling cycle failed: connection refused (failing for 120 s, 61 failures)",
        "the database works again after 150 s (75 failures)",
    ]


def test_a_tick_that_outlives_the_shutdown_gives_its_feeds_back(tmp_path: Path) -> None:
    """A tick past its stop check when the daemon shuts its feed pool: the feeds it claims
    are released for the next instance, not an exception in the scheduler's thread (seen
    once in the PostgreSQL restart test: 'cannot schedule new futures after shutdown')."""
    from concurrent.futures import ThreadPoolExecutor

    from aggregator.config.schema import parse_config
    from aggregator.service import daemon as daemon_module
    from aggregator.service.runtime import open_services

    config = parse_config(
        {
            "database": f"sqlite:///{tmp_path / 'a.db'}",
            "feeds": [{"url": "http://feeds.example/a.xml"}],
        }
    )
    daemon = daemon_module.Daemon(config)
    with open_services(config, environ={}) as services:
        daemon._services = services
        now = datetime.now(UTC)
        daemon_module.Daemon._sync_feeds(config, services.store, now)
        lease = timedelta(minutes=5)
        claimed = services.store.claim_due(
            daemon.instance_id, now, limit=1, lease=lease, per_host=2
        )
        assert len(claimed) == 1
        daemon._feed_pool = ThreadPoolExecutor(max_workers=1)
        daemon._feed_pool.shutdown()
        daemon._start(claimed[0])
        assert daemon._in_flight == {}
        again = services.store.claim_due("another", now, limit=1, lease=lease, per_host=2)
        assert [c.id for c in again] == [claimed[0].id]
