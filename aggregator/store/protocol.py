"""The :class:`Store` Protocol: what the stages and the service ask of a store.

The pipeline (:mod:`aggregator.ingest.pipeline`) and the daemon are written against it, not
against :class:`aggregator.store.sql.SqlStore`, so that what they need of the database is
written down in one place (and a test double could stand in). Records in and out are those
of :mod:`aggregator.store.records.updates` and :mod:`.records.service`. Standard library
only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from aggregator.store.records.service import ClaimedFeed, InstanceInfo, PruneCandidate
from aggregator.store.records.updates import (
    FeedState,
    FeedWrite,
    KnownEntry,
    ScheduleUpdate,
    WriteCounts,
)

__all__ = ["Store"]


class Store(Protocol):
    """One feed update is all or nothing (:meth:`store_update`); nothing here does network
    I/O inside a transaction."""

    # -- a feed update ------------------------------------------------------------------------

    def feed_state(
        self, url: str, *, history_since: datetime | None = None
    ) -> FeedState | None: ...

    def sync_feeds(self, feeds: Iterable[tuple[str, str | None]], now: datetime) -> None:
        """Make sure a row exists for each ``(url, title)``; never deletes (articles stay)."""
        ...

    def known_entries(self, feed_id: int, keys: Sequence[str]) -> dict[str, KnownEntry]:
        """The stored entries of feed ``feed_id`` among ``keys`` (entry keys)."""
        ...

    def tombstoned(self, feed_id: int, keys: Sequence[str]) -> set[str]:
        """The entry keys among ``keys`` that retention pruned from this feed."""
        ...

    def known_articles(self, url_keys: Sequence[str]) -> dict[str, int]:
        """Article id by identity (canonical link or feed-scoped key), for those stored."""
        ...

    def article_texts(self, article_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """``(text, text_source)`` of stored articles: edits are re-tagged on the full text."""
        ...

    def publish_history(self, feed_id: int, since: datetime) -> list[datetime]:
        """When the feed's entries were published (first seen where undated), since ``since``."""
        ...

    def record_not_modified(
        self,
        feed_id: int,
        now: datetime,
        etag: str | None,
        last_modified: str | None,
        duration_ms: int,
        schedule: ScheduleUpdate | None = None,
    ) -> None: ...

    def record_failure(
        self,
        feed_id: int,
        now: datetime,
        error: str,
        http_status: int | None,
        duration_ms: int,
        schedule: ScheduleUpdate | None = None,
    ) -> None: ...

    def store_update(self, feed_id: int, write: FeedWrite) -> WriteCounts:
        """Write one feed's update in a single transaction."""
        ...

    # -- the daemon: claims, instances, retention, upkeep --------------------------------

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
        """Lease up to ``limit`` due feeds to ``owner``, at most ``per_host`` per host (counting
        ``busy_hosts``, the hosts this instance is polling already). Feeds in ``in_flight``
        (this instance is polling them) are never claimed again, even where their lease
        lapsed: a late lease extension must not start a second poll of the same feed.

        ``share`` = ``(index, count)`` among the live instances: a feed whose id modulo
        ``count`` is ``index`` is this instance's own and is claimed as soon as it is due;
        another instance's only once it has been due for ``grace`` (its home is busy, slow
        or dead). Without it, whichever instance finished a feed first claimed every feed
        that came due next, and one instance did nearly all the work.
        """
        ...

    def extend_leases(self, owner: str, feed_ids: Sequence[int], until: datetime) -> None: ...

    def release_leases(self, owner: str | None, feed_ids: Sequence[int] | None = None) -> int:
        """Give feeds back (shutdown): another instance may take them at once."""
        ...

    def set_active_feeds(self, urls: Sequence[str]) -> tuple[int, int]:
        """Feeds in ``urls`` are polled, all others stop (their articles stay)."""
        ...

    def spread_overdue(
        self, now: datetime, pick: Callable[[datetime | None, timedelta], datetime]
    ) -> int:
        """At start-up: give every overdue (or never checked) active feed a new time."""
        ...

    def register_instance(
        self, instance_id: str, hostname: str, version: str, now: datetime
    ) -> None: ...

    def heartbeat(
        self, instance_id: str, now: datetime, *, cycle: bool = False, stopped: bool = False
    ) -> None: ...

    def prune_candidates(
        self,
        older_than: datetime,
        limit: int = 1000,
        *,
        after: tuple[datetime, int] | None = None,
    ) -> list[PruneCandidate]:
        """Unstarred articles published (or first seen) before ``older_than``, oldest first, after
        the ``(when, id)`` cursor, with the feeds and tags whose retention may keep them longer.
        """
        ...

    def prune_articles(self, article_ids: Sequence[int], now: datetime) -> int:
        """Delete the articles (entries and tags go with them), leaving a tombstone per entry so
        that a feed still carrying them does not bring them back.
        """
        ...

    def instances(self, *, since: datetime | None = None) -> list[InstanceInfo]:
        """The instances' records, newest heartbeat first; only those heard from since
        ``since`` when given."""
        ...

    def forget_instances(self, before: datetime) -> int:
        """Drop records of instances stopped or silent since before ``before``."""
        ...

    def forget_tombstones(self, before: datetime) -> int: ...

    def clamp_schedule(self, now: datetime, max_interval: timedelta) -> int: ...

    def load_tag_model(self, name: str) -> tuple[str, bytes] | None:
        """``(meta JSON, arrays)`` of a model ``aggregator tags learn`` stored, or None."""

    def optimize(self) -> None:
        """Let SQLite refresh its query statistics (cheap; a no-op on PostgreSQL, whose autovacuum
        does this).
        """
        ...

    def close(self) -> None: ...
