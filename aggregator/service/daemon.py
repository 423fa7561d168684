"""``aggregator run``: the long-running service.

Process lifecycle only: signals, the single-instance lock on SQLite, heartbeats, systemd
notifications, and the APScheduler jobs that drive the work. What to poll and when is the
database's (``next_check_at``, leases; see store/daemon_sql.py) and the scheduling policy's
(schedule.py); how to update a feed is the pipeline's. APScheduler only runs three recurring
jobs in this process — it never stores or coordinates anything, so a restart or a second
instance loses nothing:

- ``cycle`` (every ``schedule.tick``): claim due feeds up to free capacity, hand them to
  the feed workers, extend the leases of feeds in flight, record the cycle;
- ``heartbeat`` (every few seconds): the instance's heartbeat row and the systemd watchdog;
- ``maintenance`` (daily): retention, old tombstones and instance records, SQLite optimize;
- ``export`` (every ``export.every``, when ``export.dir`` is set): the export directory.

With ``serve.enabled`` the feeds' HTTP server runs in threads of this process, started and
stopped with it (aggregator/export/jobs.py).

Signals: SIGHUP reloads the config (an invalid one is logged and the running one kept);
SIGTERM/SIGINT stop claiming, give in-flight feeds ``schedule.shutdown_grace`` to finish and
commit, then tell the rest to stop (they write nothing) and exit 0; a second SIGTERM/SIGINT
exits at once — every feed's update is one transaction, so nothing half-written remains.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import os
import random
import signal
import socket
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import IO, Any
from urllib.parse import urlsplit

from aggregator import __version__
from aggregator.config.schema import Config, load_config
from aggregator.errors import AggregatorError, ConfigError, StoreError
from aggregator.ingest.extract.pool import release_free_memory
from aggregator.ingest.pipeline import Services, schedule_policy, update_feed_safely
from aggregator.ingest.schedule import startup_spread
from aggregator.service import systemd
from aggregator.service.runtime import open_services
from aggregator.service.upkeep import prune
from aggregator.store.dbapi import parse_sqlite_url
from aggregator.store.protocol import Store
from aggregator.store.records.service import ALIVE_SECONDS, HEARTBEAT_SECONDS, ClaimedFeed

__all__ = ["Daemon", "SingleInstanceError"]

log = logging.getLogger(__name__)

MAINTENANCE_EVERY = timedelta(days=1)
TOMBSTONE_DAYS = 400
INSTANCE_RECORD_DAYS = 7


class SingleInstanceError(AggregatorError):
    """A second daemon on one SQLite database."""


def _file_identity(database_url: str) -> tuple[Path, tuple[int, int]] | None:
    sqlite = parse_sqlite_url(database_url)
    if sqlite is None or sqlite.path is None:
        return None
    try:
        stat = sqlite.path.stat()
    except OSError:
        return None
    return sqlite.path, (stat.st_dev, stat.st_ino)


def _sqlite_lock(database_url: str) -> IO[str] | None:
    """Hold an exclusive lock next to a SQLite database for the life of the process.

    SQLite serializes writers but has no leases across processes worth trusting for a
    scheduler, so one daemon per file. An OS lock (not a pid file) is released by the kernel
    when the process dies, so a crash never leaves a stale lock behind."""
    sqlite = parse_sqlite_url(database_url)
    if sqlite is None or sqlite.path is None:
        return None
    database = sqlite.path
    path = database.with_name(database.name + ".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise SingleInstanceError(
            f"another `aggregator run` ({holder}) is using the SQLite database {database}; "
            "SQLite allows one daemon per database. To run several, use PostgreSQL "
            "(README: Scaling out)."
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
    handle.flush()
    return handle


class StoreOutage:
    """Says that the database fails once, then once a minute while it lasts, and when it is
    usable again: a daemon ticking every few seconds would otherwise write the same error line
    per tick and per heartbeat for as long as a PostgreSQL restart or a full disk lasts.
    Times are ``time.monotonic()`` values passed in."""

    def __init__(self, every: float = 60.0) -> None:
        self.every = every
        self.since: float | None = None
        self._said_at = 0.0
        self._failures = 0

    def failed(self, what: str, exc: StoreError, now: float) -> None:
        self._failures += 1
        if self.since is None:
            self.since = self._said_at = now
            log.error("%s: %s (retried every tick; said again once a minute)", what, exc)
        elif now - self._said_at >= self.every:
            self._said_at = now
            log.error(
                "%s: %s (failing for %.0f s, %d failures)",
                what,
                exc,
                now - self.since,
                self._failures,
            )

    def succeeded(self, now: float) -> None:
        if self.since is None:
            return
        log.warning(
            "the database works again after %.0f s (%d failures)",
            now - self.since,
            self._failures,
        )
        self.since = None
        self._failures = 0


class Daemon:
    """One ``aggregator run`` process. Build it, then call :meth:`run` from the main thread."""

    def __init__(
        self,
        config: Config,
        *,
        config_path: str | None = None,
        clock: Any = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.config_path = config_path
        self.clock = clock or (lambda: datetime.now(UTC))
        self.rng = rng or random.Random()
        self.instance_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._wake = threading.Event()
        # A feed finished: claim more now rather than at the next tick.
        self._refill = threading.Event()
        # The tick's cycle (scheduler thread) and a refill (main thread) never overlap: both
        # count free capacity from the feeds in flight.
        self._cycle_lock = threading.Lock()
        # When the leases of the feeds in flight were last extended (under _cycle_lock).
        self._extended_at: datetime | None = None
        # (index, count) among the live instances sharing the database, refreshed each tick
        # (under _cycle_lock); None when alone.
        self._share: tuple[int, int] | None = None
        self._outage = StoreOutage()
        self._signals = 0
        self._lock = threading.Lock()
        self._in_flight: dict[int, tuple[str, Future[Any]]] = {}
        self._services: Services | None = None
        # Holding the SQLite lock: no other instance can be alive on this database.
        self._exclusive = False
        # The SQLite file's (device, inode) at start; see _check_database_file.
        self._database_file: tuple[Path, tuple[int, int]] | None = None
        self._exit_code = 0
        self._feed_pool: ThreadPoolExecutor | None = None
        self._exports: Any = None

    # -- signals ------------------------------------------------------------------------------

    def _on_stop_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._signals += 1
        if self._signals > 1:
            # Second signal: out now. Every feed update is one transaction, so the database
            # rolls back whatever was in flight; nothing half-written remains.
            os.write(2, b"aggregator: second signal, exiting at once\n")
            os._exit(128 + signum)
        self._stop.set()
        self._wake.set()

    def _on_hup(self, _signum: int, _frame: FrameType | None) -> None:
        self._reload.set()
        self._wake.set()

    def _install_signals(self) -> None:
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        signal.signal(signal.SIGINT, self._on_stop_signal)
        signal.signal(signal.SIGHUP, self._on_hup)

    # -- lifecycle ----------------------------------------------------------------------------

    def run(self) -> int:
        self._install_signals()
        lock = _sqlite_lock(self.config.database_url())
        self._exclusive = lock is not None
        try:
            with open_services(self.config) as services:
                self._services = replace(services, control=replace(services.control, rng=self.rng))
                self._database_file = _file_identity(self.config.database_url())
                return self._serve()
        finally:
            if lock is not None:
                lock.close()

    def _serve(self) -> int:
        from apscheduler.schedulers.background import BackgroundScheduler

        services = self._require_services()
        store = services.store
        now = self.clock()
        if self._exclusive:
            # Leases left by a daemon that was killed: with the lock ours, their owner is
            # dead, so its feeds need not wait for the leases (schedule.lease) to expire.
            stale = store.release_leases(None)
            if stale:
                log.info("released leases of a stopped daemon", extra={"fields": {"feeds": stale}})
        self._sync_feeds(self.config, store, now)
        policy = schedule_policy(self.config)
        # No feed waits longer than max_interval after a start: a never-polled feed's
        # stand-in interval (a minute) must not exceed a shorter configured maximum.
        spread = store.spread_overdue(
            now,
            lambda when, interval: startup_spread(
                when, now, min(interval, policy.max_interval), self.rng, policy
            ),
        )
        if self.config.serve.enabled or self.config.export.dir is not None:
            from aggregator.export.jobs import DaemonExports

            # Before registering: a port that cannot be bound stops the start cleanly.
            self._exports = DaemonExports(self.config)
            self._exports.start()
        store.register_instance(self.instance_id, socket.gethostname(), __version__, now)
        self._feed_pool = ThreadPoolExecutor(
            max_workers=self.config.fetch.concurrency, thread_name_prefix="feed"
        )
        scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        tick = self.config.schedule.tick.total_seconds()
        scheduler.add_job(self._cycle, "interval", seconds=tick, next_run_time=now, id="cycle")
        heartbeat = min(HEARTBEAT_SECONDS, systemd.watchdog_interval() or HEARTBEAT_SECONDS)
        scheduler.add_job(self._heartbeat, "interval", seconds=heartbeat, id="heartbeat")
        scheduler.add_job(
            self._maintenance,
            "interval",
            seconds=MAINTENANCE_EVERY.total_seconds(),
            next_run_time=now + timedelta(minutes=1),
            id="maintenance",
        )
        if self._exports is not None:
            self._exports.schedule(scheduler, now)
        scheduler.start()
        log.info(
            "daemon started",
            extra={
                "fields": {
                    "instance": self.instance_id,
                    "feeds": sum(f.enabled for f in self.config.feeds),
                    "overdue_spread": spread,
                    "tick_s": tick,
                }
            },
        )
        systemd.ready()
        systemd.status("polling")
        try:
            while not self._stop.is_set():
                self._wake.wait(timeout=1.0)
                self._wake.clear()
                if self._reload.is_set():
                    self._reload.clear()
                    self._reload_config()
                if self._refill.is_set() and not self._stop.is_set():
                    self._refill.clear()
                    self._claim(tick=False)
        finally:
            self._shutdown(scheduler)
        return self._exit_code

    def _shutdown(self, scheduler: Any) -> None:
        systemd.stopping()
        log.info("daemon stopping", extra={"fields": {"in_flight": len(self._in_flight)}})
        scheduler.shutdown(wait=False)
        self._stop.set()  # set by a signal already; a failure in the loop ends it too
        if self._exports is not None:
            self._exports.stop()
        services = self._require_services()
        grace = self.config.schedule.shutdown_grace.total_seconds()
        # A tick past its stop check may still be claiming feeds: let it hand them to the
        # pool, so that they are waited for below. No later one claims (it sees the stop).
        if self._cycle_lock.acquire(timeout=grace):
            self._cycle_lock.release()
        with self._lock:
            futures = [future for _, future in self._in_flight.values()]
        _, pending = wait_futures(futures, timeout=grace)
        if pending:
            log.warning(
                "grace period over: stopping unfinished feeds",
                extra={"fields": {"unfinished": len(pending), "grace_s": grace}},
            )
            services.control.stop.set()
            wait_futures(pending, timeout=30)
        if self._feed_pool is not None:
            self._feed_pool.shutdown(wait=False, cancel_futures=True)
        try:
            services.store.release_leases(self.instance_id)
            services.store.heartbeat(self.instance_id, self.clock(), stopped=True)
        except StoreError as exc:
            log.error("cannot release leases on shutdown: %s", exc)
        log.info("daemon stopped", extra={"fields": {"instance": self.instance_id}})

    def _require_services(self) -> Services:
        assert self._services is not None, "services are opened by run()"
        return self._services

    # -- config -------------------------------------------------------------------------------

    @staticmethod
    def _sync_feeds(config: Config, store: Store, now: datetime) -> tuple[int, int]:
        enabled = [f for f in config.feeds if f.enabled]
        store.sync_feeds([(f.url, f.title) for f in enabled], now)
        return store.set_active_feeds([f.url for f in enabled])

    def _reload_config(self) -> None:
        try:
            config = load_config(self.config_path)
        except ConfigError as exc:
            log.error(
                "config reload failed: keeping the running configuration",
                extra={"fields": {"problems": "; ".join(exc.problems)}},
            )
            return
        services = self._require_services()
        if config.database_url() != self.config.database_url():
            log.warning("config reload: a new database takes effect only after a restart")
        before = {f.url for f in self.config.feeds if f.enabled}
        after = {f.url for f in config.feeds if f.enabled}
        try:
            activated, deactivated = self._sync_feeds(config, services.store, self.clock())
            if config.schedule.max_interval < self.config.schedule.max_interval:
                # Checks scheduled under the old bound would otherwise wait it out.
                moved = services.store.clamp_schedule(self.clock(), config.schedule.max_interval)
                log.info("config reload: %d feeds rescheduled within the new max_interval", moved)
        except StoreError as exc:
            log.error("config reload failed: %s; keeping the running configuration", exc)
            return
        # Fetch, extraction and database settings are bound to open clients: restart for them.
        from aggregator.ingest.tag.learn import LEARNED_MODEL
        from aggregator.ingest.tag.loader import Tagger, open_tagger, tagging_for, with_learned

        tagger: Tagger
        try:
            tagger = open_tagger(config, previous=services.tagger)
            # A model `tags learn` stored since the start is taken up here.
            tagger = with_learned(config, tagger, services.store.load_tag_model(LEARNED_MODEL))
        except AggregatorError as exc:
            log.error("config reload: %s; keeping the running tagger", exc)
            tagger = services.tagger
        self._services = replace(
            services, config=config, tagger=tagger, tagging=tagging_for(config, tagger)
        )
        self.config = config
        if self._exports is not None:
            self._exports.reload(config)
        log.info(
            "config reloaded",
            extra={
                "fields": {
                    "added": len(after - before),
                    "removed": len(before - after),
                    "activated": activated,
                    "deactivated": deactivated,
                }
            },
        )
        self._wake.set()

    # -- jobs ---------------------------------------------------------------------------------

    def _cycle(self) -> None:
        self._claim(tick=True)
        # What the finished feeds freed goes back to the OS, not to the next peak's reserve.
        release_free_memory()

    def _claim(self, *, tick: bool) -> None:
        """Claim due feeds up to free capacity. The tick also extends the leases of feeds in
        flight and records the cycle; a refill (a feed just finished) only claims, so that a
        slot freed mid-tick is not left idle until the next tick."""
        with self._cycle_lock:
            if self._stop.is_set():
                return
            self._claim_locked(tick)

    def _claim_locked(self, tick: bool) -> None:
        services = self._require_services()
        now = self.clock()
        try:
            with self._lock:
                busy = Counter(_host(url) for url, _ in self._in_flight.values())
                in_flight = list(self._in_flight)
            capacity = self.config.fetch.concurrency - len(in_flight)
            lease = self.config.schedule.lease
            # The tick extends the leases; a refill too when the last extension is a third of
            # a lease old, because on a loaded machine ticks come late and a lease that lapses
            # mid-poll lets another instance start the same feed.
            if tick or self._extended_at is None or now - self._extended_at > lease / 3:
                services.store.extend_leases(self.instance_id, in_flight, now + lease)
                self._extended_at = now
            if tick and not self._exclusive:
                self._share = self._own_share(now)
            claimed = services.store.claim_due(
                self.instance_id,
                now,
                limit=capacity,
                lease=lease,
                per_host=self.config.fetch.per_host_limit,
                busy_hosts=dict(busy),
                in_flight=in_flight,
                share=self._share,
                # Two ticks: the home instance's own tick has come by then.
                grace=2 * self.config.schedule.tick,
            )
            for feed in claimed:
                self._start(feed)
            if tick:
                services.store.heartbeat(self.instance_id, now, cycle=True)
        except StoreError as exc:
            self._outage.failed("scheduling cycle failed", exc, time.monotonic())
        else:
            self._outage.succeeded(time.monotonic())

    def _own_share(self, now: datetime) -> tuple[int, int] | None:
        """This instance's place among the live ones (heartbeat within ALIVE_SECONDS, not
        stopped), by id: each polls the feeds whose id modulo their count is its index first."""
        live = sorted(
            i.id
            for i in self._require_services().store.instances(
                since=now - timedelta(seconds=ALIVE_SECONDS)
            )
            if i.stopped_at is None
        )
        if self.instance_id not in live or len(live) < 2:
            return None
        return live.index(self.instance_id), len(live)

    def _start(self, claimed: ClaimedFeed) -> None:
        services = self._require_services()
        feed = self.config.feed(claimed.url)
        if feed is None or not feed.enabled:
            # Removed from the config since it was activated: give it back, stop it.
            services.store.release_leases(self.instance_id, [claimed.id])
            services.store.set_active_feeds([f.url for f in self.config.feeds if f.enabled])
            return
        assert self._feed_pool is not None
        with self._lock:
            try:
                future = self._feed_pool.submit(self._update, feed.url)
            except RuntimeError:  # shut down: a tick that outlived the shutdown's wait
                started = False
            else:
                self._in_flight[claimed.id] = (feed.url, future)
                started = True
        if not started:
            services.store.release_leases(self.instance_id, [claimed.id])
            return
        future.add_done_callback(functools.partial(self._done, claimed.id))

    def _update(self, url: str) -> None:
        services = self._require_services()
        feed = self.config.feed(url)
        if feed is None:
            return
        update_feed_safely(feed, services)

    def _done(self, feed_id: int, _future: Future[Any]) -> None:
        with self._lock:
            self._in_flight.pop(feed_id, None)
        if not self._stop.is_set():
            self._refill.set()
            self._wake.set()

    def _check_database_file(self) -> bool:
        """Whether the SQLite file is still the one opened. Removed or replaced under a
        running daemon, SQLite would go on writing into the unlinked inode and every article
        would vanish at exit: stop instead, with status 1, so that systemd restarts on the
        file that is there now."""
        if self._database_file is None:
            return True
        path, identity = self._database_file
        try:
            stat = path.stat()
        except OSError:
            now = None
        else:
            now = (stat.st_dev, stat.st_ino)
        if now == identity:
            return True
        log.error(
            "the database file %s was %s while the daemon ran: stopping (exit status 1)",
            path,
            "removed" if now is None else "replaced",
        )
        self._exit_code = 1
        self._stop.set()
        self._wake.set()
        return False

    def _heartbeat(self) -> None:
        if not self._check_database_file():
            return
        try:
            self._require_services().store.heartbeat(self.instance_id, self.clock())
        except StoreError as exc:
            self._outage.failed("heartbeat failed", exc, time.monotonic())
            return
        # Only a live scheduler thread reaches this: systemd restarts a stuck process.
        systemd.watchdog()

    def _maintenance(self) -> None:
        services = self._require_services()
        now = self.clock()
        started = time.monotonic()
        try:
            report = prune(services.store, self.config, now)
            tombstones = services.store.forget_tombstones(now - timedelta(days=TOMBSTONE_DAYS))
            instances = services.store.forget_instances(now - timedelta(days=INSTANCE_RECORD_DAYS))
            services.store.optimize()
        except StoreError as exc:
            log.error("maintenance failed: %s", exc)
            return
        log.info(
            "maintenance done",
            extra={
                "fields": {
                    "pruned": report.pruned,
                    "tombstones_forgotten": tombstones,
                    "instances_forgotten": instances,
                    "ms": int((time.monotonic() - started) * 1000),
                }
            },
        )


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()
