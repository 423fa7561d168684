"""Queries of the long-running service: claiming due feeds with leases, heartbeats, the
config's feed set, retention with tombstones, and the numbers ``aggregator status`` shows.

Claiming is where several instances meet. On PostgreSQL due rows are selected ``FOR UPDATE
SKIP LOCKED`` and leased in the same transaction, so two instances never claim one feed and
neither waits for the other; a lease that expires (its instance died) makes the feed
claimable again. On SQLite the write transaction is ``BEGIN IMMEDIATE``, which serializes
claimers by itself (and a second daemon on one SQLite file is refused before it gets here).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import (
    Connection,
    Integer,
    and_,
    bindparam,
    case,
    delete,
    func,
    literal,
    or_,
    select,
    text,
    tuple_,
    update,
)

from aggregator.store.base import chunks, digest
from aggregator.store.records.service import ClaimedFeed, FailingFeed, InstanceInfo, PruneCandidate
from aggregator.store.search_sql import SearchQueries
from aggregator.store.tables import (
    ArticleRow,
    ArticleTagRow,
    EntryRow,
    EntryTombstoneRow,
    FeedRow,
    InstanceRow,
    UTCDateTime,
)

__all__ = [
    "DaemonQueries",
]


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


class DaemonQueries(SearchQueries):
    # -- the configured feed set ------------------------------------------------------------

    def set_active_feeds(self, urls: Sequence[str]) -> tuple[int, int]:
        """Feeds in ``urls`` are polled, all others stop (their articles stay).

        Returns (activated, deactivated) counts."""
        wanted = set(urls)
        with self._write() as session:
            rows = session.execute(select(FeedRow.id, FeedRow.url, FeedRow.active)).all()
            on = [i for i, url, active in rows if url in wanted and not active]
            off = [i for i, url, active in rows if url not in wanted and active]
            if on:
                session.execute(update(FeedRow).where(FeedRow.id.in_(on)).values(active=True))
            if off:
                session.execute(
                    update(FeedRow)
                    .where(FeedRow.id.in_(off))
                    .values(active=False, lease_owner=None, lease_until=None)
                )
        return len(on), len(off)

    def clamp_schedule(self, now: datetime, max_interval: timedelta) -> int:
        """After a config reload lowered ``schedule.max_interval``: no feed waits longer than
        it from ``now`` (checks scheduled 6 h away come within the new bound), and no learned
        interval exceeds it. Returns how many feeds moved."""
        latest = now + max_interval
        seconds = int(max_interval.total_seconds())
        with self._write() as session:
            moved = session.execute(
                update(FeedRow)
                .where(FeedRow.active, FeedRow.next_check_at > latest)
                .values(next_check_at=latest)
            )
            session.execute(
                update(FeedRow)
                .where(FeedRow.interval_seconds > seconds)
                .values(interval_seconds=seconds)
            )
            return int(moved.rowcount or 0)  # type: ignore[attr-defined]

    def spread_overdue(
        self, now: datetime, pick: Callable[[datetime | None, timedelta], datetime]
    ) -> int:
        """At start-up: give every overdue (or never checked) active feed a new time.

        ``pick(next_check_at, interval)`` chooses it (schedule.startup_spread), so that a
        restart with hundreds of overdue feeds does not fire them all at once. Feeds leased
        by a live instance are left alone."""
        with self._write() as session:
            rows = session.execute(
                select(
                    FeedRow.id,
                    FeedRow.next_check_at,
                    FeedRow.interval_seconds,
                    FeedRow.last_checked_at,
                ).where(
                    FeedRow.active,
                    or_(FeedRow.next_check_at.is_(None), FeedRow.next_check_at <= now),
                    or_(FeedRow.lease_until.is_(None), FeedRow.lease_until < now),
                )
            ).all()
            spread = 0
            for feed_id, next_check_at, interval, last_checked in rows:
                # A feed never polled (a new install, a feed just added) starts within a
                # minute; overdue feeds spread over up to their own interval.
                seconds = 60 if last_checked is None else interval or 300
                when = pick(next_check_at, timedelta(seconds=seconds))
                # Only if nobody claimed or polled the feed since it was read: another
                # instance may have, and its next check must not be overwritten by a time
                # picked from the old one (it made that feed due again at once).
                unchanged = (
                    FeedRow.next_check_at.is_(None)
                    if next_check_at is None
                    else FeedRow.next_check_at == next_check_at
                )
                result = session.execute(
                    update(FeedRow)
                    .where(
                        FeedRow.id == feed_id,
                        unchanged,
                        or_(FeedRow.lease_until.is_(None), FeedRow.lease_until < now),
                    )
                    .values(next_check_at=when)
                )
                spread += int(result.rowcount or 0)  # type: ignore[attr-defined]
        return spread

    # -- claiming -----------------------------------------------------------------------------

    def claim_due(
        self,
        owner: str,
        now: datetime,
        *,
        limit: int,
        lease: timedelta,
        per_host: int,
        busy_hosts: dict[str, int] | None = None,
        in_flight: Sequence[int] = (),
        share: tuple[int, int] | None = None,
        grace: timedelta = timedelta(0),
    ) -> list[ClaimedFeed]:
        """Lease up to ``limit`` due feeds to ``owner``, at most ``per_host`` per host
        (counting ``busy_hosts``, the hosts this instance is polling already), never one of
        ``in_flight``, another instance's share only once it is ``grace`` overdue (see the
        protocol)."""
        if limit <= 0:
            return []
        busy = dict(busy_hosts or {})
        conditions = [
            FeedRow.active,
            or_(FeedRow.next_check_at.is_(None), FeedRow.next_check_at <= now),
            or_(FeedRow.lease_until.is_(None), FeedRow.lease_until < now),
        ]
        if in_flight:
            conditions.append(FeedRow.id.not_in(list(in_flight)))
        if share is not None and share[1] > 1:
            index, count = share
            conditions.append(
                or_(
                    FeedRow.id % count == index,
                    FeedRow.next_check_at.is_(None),
                    FeedRow.next_check_at <= now - grace,
                )
            )
        stmt = (
            select(FeedRow.id, FeedRow.url, FeedRow.fetch_url, FeedRow.next_check_at)
            .where(*conditions)
            .order_by(FeedRow.next_check_at.asc().nulls_first(), FeedRow.id)
            .limit(limit * 4)
        )
        if self.dialect == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True, of=FeedRow)
        claimed: list[ClaimedFeed] = []
        with self._write() as session:
            for feed_id, url, fetch_url, next_check_at in session.execute(stmt).all():
                host = _host(fetch_url or url)
                if busy.get(host, 0) >= per_host:
                    continue
                busy[host] = busy.get(host, 0) + 1
                claimed.append(ClaimedFeed(feed_id, url, next_check_at))
                if len(claimed) >= limit:
                    break
            if claimed:
                session.execute(
                    update(FeedRow)
                    .where(FeedRow.id.in_([c.id for c in claimed]))
                    .values(lease_owner=owner, lease_until=now + lease)
                )
        return claimed

    def extend_leases(self, owner: str, feed_ids: Sequence[int], until: datetime) -> None:
        if not feed_ids:
            return
        with self._write() as session:
            session.execute(
                update(FeedRow)
                .where(FeedRow.id.in_(list(feed_ids)), FeedRow.lease_owner == owner)
                .values(lease_until=until)
            )

    def release_leases(self, owner: str | None, feed_ids: Sequence[int] | None = None) -> int:
        """Give feeds back (shutdown): another instance may take them at once.

        ``owner=None`` releases every lease, whoever holds it: only for a daemon that knows
        it is alone (the SQLite lock). Returns how many feeds were released."""
        conditions = [
            FeedRow.lease_owner.is_not(None) if owner is None else FeedRow.lease_owner == owner
        ]
        if feed_ids is not None:
            conditions.append(FeedRow.id.in_(list(feed_ids)))
        with self._write() as session:
            result = session.execute(
                update(FeedRow).where(*conditions).values(lease_owner=None, lease_until=None)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def publish_history(self, feed_id: int, since: datetime) -> list[datetime]:
        """When the feed's entries were published (first seen where undated), since ``since``."""
        with self._read_core() as conn:
            return self.publish_history_on(conn, feed_id, since)

    @staticmethod
    def publish_history_on(conn: Connection, feed_id: int, since: datetime) -> list[datetime]:
        """:meth:`publish_history` on an open connection."""
        rows = conn.execute(_PUBLISH_HISTORY, {"feed_id": feed_id, "since": since})
        return [w for (w,) in rows if w is not None]

    # -- instances ----------------------------------------------------------------------------

    def register_instance(
        self, instance_id: str, hostname: str, version: str, now: datetime
    ) -> None:
        with self._write() as session:
            session.add(
                InstanceRow(
                    id=instance_id,
                    hostname=hostname,
                    pid=os.getpid(),
                    version=version,
                    started_at=now,
                    heartbeat_at=now,
                )
            )

    def heartbeat(
        self, instance_id: str, now: datetime, *, cycle: bool = False, stopped: bool = False
    ) -> None:
        values: dict[str, object] = {"heartbeat_at": now}
        if cycle:
            values["last_cycle_at"] = now
        if stopped:
            values["stopped_at"] = now
        with self._write() as session:
            session.execute(
                update(InstanceRow).where(InstanceRow.id == instance_id).values(**values)
            )

    def instances(self, *, since: datetime | None = None) -> list[InstanceInfo]:
        stmt = select(InstanceRow).order_by(InstanceRow.heartbeat_at.desc())
        if since is not None:
            stmt = stmt.where(InstanceRow.heartbeat_at >= since)
        with self._read() as session:
            return [
                InstanceInfo(
                    r.id,
                    r.hostname,
                    r.pid,
                    r.version,
                    r.started_at,
                    r.heartbeat_at,
                    r.last_cycle_at,
                    r.stopped_at,
                )
                for r in session.scalars(stmt)
            ]

    def forget_instances(self, before: datetime) -> int:
        """Drop records of instances stopped or silent since before ``before``."""
        with self._write() as session:
            result = session.execute(delete(InstanceRow).where(InstanceRow.heartbeat_at < before))
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    # -- status -------------------------------------------------------------------------------

    def due_count(self, now: datetime) -> int:
        with self._read() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(FeedRow)
                    .where(
                        FeedRow.active,
                        or_(FeedRow.next_check_at.is_(None), FeedRow.next_check_at <= now),
                    )
                )
                or 0
            )

    def failing_feeds(self) -> list[FailingFeed]:
        stmt = (
            select(FeedRow)
            .where(FeedRow.active, FeedRow.error_count > 0)
            .order_by(FeedRow.error_count.desc(), FeedRow.url)
        )
        with self._read() as session:
            return [
                FailingFeed(
                    r.url,
                    r.title,
                    r.error_count,
                    r.last_error,
                    r.last_checked_at,
                    r.next_check_at,
                    r.gone,
                )
                for r in session.scalars(stmt)
            ]

    def database_size(self) -> int | None:
        """Bytes on disk: the SQLite file with its WAL, or pg_database_size."""
        if self.dialect == "sqlite":
            database = self.engine.url.database
            if not database or database == ":memory:":
                return None
            return sum(
                Path(database + suffix).stat().st_size
                for suffix in ("", "-wal", "-shm")
                if Path(database + suffix).exists()
            )
        if self.dialect == "postgresql":
            with self._read() as session:
                size = session.scalar(text("SELECT pg_database_size(current_database())"))
                return int(size) if size is not None else None
        return None

    # -- retention ----------------------------------------------------------------------------

    def prune_candidates(
        self,
        older_than: datetime,
        limit: int = 1000,
        *,
        after: tuple[datetime, int] | None = None,
    ) -> list[PruneCandidate]:
        """Unstarred articles both published and first seen before ``older_than``, oldest
        first by the later of the two, after the ``(when, id)`` cursor, with the feeds and
        tags whose retention may keep them longer."""
        when = _RETAINED_FROM
        stmt = (
            select(ArticleRow.id, when)
            .where(~ArticleRow.starred, when < older_than)
            .order_by(when, ArticleRow.id)
            .limit(limit)
        )
        if after is not None:
            cursor = tuple_(literal(after[0], UTCDateTime()), literal(after[1], Integer()))
            stmt = stmt.where(tuple_(when, ArticleRow.id) > cursor)
        with self._read() as session:
            rows = session.execute(stmt).all()
            ids = [i for i, _ in rows]
            feeds: dict[int, list[str]] = {i: [] for i in ids}
            tags: dict[int, list[str]] = {i: [] for i in ids}
            for chunk in chunks(ids, 500):
                for article_id, url in session.execute(
                    select(EntryRow.article_id, FeedRow.url)
                    .join(FeedRow, FeedRow.id == EntryRow.feed_id)
                    .where(EntryRow.article_id.in_(chunk))
                ):
                    feeds[article_id].append(url)
                for article_id, tag in session.execute(
                    select(ArticleTagRow.article_id, ArticleTagRow.tag).where(
                        ArticleTagRow.article_id.in_(chunk)
                    )
                ):
                    tags[article_id].append(tag)
        return [PruneCandidate(i, w, tuple(feeds[i]), tuple(sorted(set(tags[i])))) for i, w in rows]

    def prune_articles(self, article_ids: Sequence[int], now: datetime) -> int:
        """Delete the articles (entries and tags go with them), leaving a tombstone per entry
        so that a feed still carrying them does not bring them back."""
        pruned = 0
        for chunk in chunks(list(article_ids), 500):
            with self._write() as session:
                entries = session.execute(
                    select(EntryRow.feed_id, EntryRow.key_hash).where(
                        EntryRow.article_id.in_(chunk)
                    )
                ).all()
                if entries:
                    session.execute(
                        self._insert(EntryTombstoneRow)
                        .values(
                            [{"feed_id": f, "key_hash": k, "pruned_at": now} for f, k in entries]
                        )
                        .on_conflict_do_nothing()
                    )
                session.execute(delete(ArticleTagRow).where(ArticleTagRow.article_id.in_(chunk)))
                session.execute(delete(EntryRow).where(EntryRow.article_id.in_(chunk)))
                result = session.execute(
                    delete(ArticleRow).where(ArticleRow.id.in_(chunk), ~ArticleRow.starred)
                )
                pruned += int(result.rowcount or 0)  # type: ignore[attr-defined]
                # After the deletes: only articles really gone leave the search index.
                self.unindex_articles(session, chunk)
        return pruned

    def forget_tombstones(self, before: datetime) -> int:
        with self._write() as session:
            result = session.execute(
                delete(EntryTombstoneRow).where(EntryTombstoneRow.pruned_at < before)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def tombstoned(self, feed_id: int, keys: Sequence[str]) -> set[str]:
        """The entry keys among ``keys`` that retention pruned from this feed."""
        by_hash = {digest(k): k for k in keys}
        found: set[str] = set()
        with self._read_core() as conn:
            for chunk in chunks(list(by_hash), 500):
                for (key_hash,) in conn.execute(
                    select(EntryTombstoneRow.key_hash).where(
                        and_(
                            EntryTombstoneRow.feed_id == feed_id,
                            EntryTombstoneRow.key_hash.in_(chunk),
                        )
                    )
                ):
                    found.add(by_hash[key_hash])
        return found

    def optimize(self) -> None:
        """Let SQLite refresh its query statistics (cheap; a no-op on PostgreSQL, whose
        autovacuum does this)."""
        if self.dialect != "sqlite":
            return
        with self._write() as session:
            session.execute(text("PRAGMA optimize"))

    def set_starred(self, article_ids: Sequence[int], starred: bool) -> int:
        with self._write() as session:
            result = session.execute(
                update(ArticleRow)
                .where(ArticleRow.id.in_(list(article_ids)))
                .values(starred=starred)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]


# When an article's keep period starts: the later of its publication and its first sight. A
# feed's first poll brings its backlog (a 2018 archive, a blog's decade); by publication date
# alone, the next daily prune, a minute after the daemon starts, deleted all of it, read or
# not, and the next article took the freed ids. Kept from first sight, the backlog stays
# keep_days like everything else (newsboat drops such items instead; we would rather show
# what the feed holds).
_RETAINED_FROM = case(
    (ArticleRow.published_at > ArticleRow.first_seen_at, ArticleRow.published_at),
    else_=ArticleRow.first_seen_at,
)
# Built once: each poll of each feed reads it, and building it cost more (~85 µs) than
# SQLite takes to run it (the statement's cache key is then computed once, too).
_PUBLISHED = func.coalesce(ArticleRow.published_at, ArticleRow.first_seen_at)
_PUBLISH_HISTORY = (
    select(_PUBLISHED)
    .join(EntryRow, EntryRow.article_id == ArticleRow.id)
    .where(
        EntryRow.feed_id == bindparam("feed_id"),
        # The column on the left: the parameter takes its type (UTC datetimes as text).
        _PUBLISHED >= bindparam("since"),  # noqa: SIM300
    )
)
