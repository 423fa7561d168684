"""The store: every read and write aggregator makes, on SQLite or PostgreSQL alike.

Rules it keeps: one feed's update (its entries, articles, tags and fetch state) commits as
one transaction, so a crash leaves either all of it or none of it; uniqueness lives in
constraints (``articles.key_hash``, ``entries(feed_id, key_hash)``) and inserts go through
``ON CONFLICT DO NOTHING``, so two writers racing on the same article cannot duplicate it; no
network I/O ever happens inside a transaction. It does not decide *what* to write: the
pipeline does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, bindparam, delete, exists, func, select, update
from sqlalchemy.orm import Session

from aggregator.errors import StoreError
from aggregator.models import TagAssignment
from aggregator.store.base import ReadingQueries, chunks, clean, digest, join_categories
from aggregator.store.daemon_sql import DaemonQueries
from aggregator.store.dbapi import parse_sqlite_url
from aggregator.store.engine import ensure_schema, make_engine
from aggregator.store.export_sql import ExportQueries
from aggregator.store.records.reading import ArticleView, FeedHealth
from aggregator.store.records.updates import (
    ArticleWrite,
    EntryWrite,
    FeedState,
    FeedWrite,
    KnownEntry,
    ScheduleUpdate,
    WriteCounts,
)
from aggregator.store.story_sql import StoryQueries
from aggregator.store.tables import (
    ArticleRow,
    ArticleTagRow,
    EntryRow,
    EntryTombstoneRow,
    FeedRow,
)
from aggregator.store.tags_sql import TagQueries
from aggregator.text.search import article_tokens

__all__ = [
    "SqlStore",
]


class SqlStore(ReadingQueries, DaemonQueries, ExportQueries, TagQueries, StoryQueries):
    """Open with :meth:`open`; every method runs its own short transaction."""

    @classmethod
    def open(cls, url: str, *, create: bool = True) -> SqlStore:
        """Open ``url``. A brand-new empty database gets the schema when ``create``;
        an outdated schema is refused (SchemaOutdatedError) with what to run. Without
        ``create`` a SQLite file that does not exist is an error, and nothing is created."""
        if not create:
            sqlite = parse_sqlite_url(url)
            if sqlite is not None and sqlite.path is not None and not sqlite.path.exists():
                raise StoreError(
                    f"no database at {sqlite.path}: `aggregator poll` or `aggregator run` "
                    "creates it; or point `database` (or AGGREGATOR_DATABASE_URL) at yours"
                )
        engine = make_engine(url)
        try:
            ensure_schema(engine, create=create)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- feeds ------------------------------------------------------------------------------

    def sync_feeds(self, feeds: Iterable[tuple[str, str | None]], now: datetime) -> None:
        """Make sure a row exists for each ``(url, title)``; never deletes (articles stay).

        Reads first and writes only what is missing, so read-only commands that call it
        take no write lock once the feeds exist.
        """
        wanted = dict(feeds)
        if not wanted:
            return
        with self._read() as session:
            existing = set(session.scalars(select(FeedRow.url).where(FeedRow.url.in_(wanted))))
        rows = [
            {"url": url, "title": title, "created_at": now}
            for url, title in wanted.items()
            if url not in existing
        ]
        if not rows:
            return
        with self._write() as session:
            session.execute(
                self._insert(FeedRow).values(rows).on_conflict_do_nothing(index_elements=["url"])
            )

    def feed_state(self, url: str, *, history_since: datetime | None = None) -> FeedState | None:
        """The feed's fetch state; with ``history_since``, its publication history since
        then too (:meth:`publish_history`), read in the same transaction: every update
        needs both, and a 304 needs nothing else."""
        with self._read_core() as conn:
            row = conn.execute(_FEED_STATE_BY_URL, {"url": url}).one_or_none()
            if row is None:
                return None
            state = _feed_state(row)
            if history_since is None:
                return state
            history = self.publish_history_on(conn, state.id, history_since)
            return replace(state, publish_history=tuple(history))

    def known_entries(self, feed_id: int, keys: Sequence[str]) -> dict[str, KnownEntry]:
        """The stored entries of feed ``feed_id`` among ``keys`` (entry keys)."""
        by_hash = {digest(key): key for key in keys}
        out: dict[str, KnownEntry] = {}
        with self._read_core() as conn:
            for chunk in chunks(list(by_hash), 500):
                rows = conn.execute(_STORED_ENTRIES, {"feed_id": feed_id, "hashes": chunk})
                for key_hash, _, article_id, content_hash in rows:
                    out[by_hash[key_hash]] = KnownEntry(article_id, content_hash)
        return out

    def known_articles(self, url_keys: Sequence[str]) -> dict[str, int]:
        """Article id by identity (canonical link or feed-scoped key), for those stored."""
        by_hash = {digest(key): key for key in url_keys}
        out: dict[str, int] = {}
        with self._read_core() as conn:
            for chunk in chunks(list(by_hash), 500):
                rows = conn.execute(_KNOWN_ARTICLES, {"hashes": chunk})
                out.update({by_hash[h]: article_id for h, article_id in rows})
        return out

    def article_texts(self, article_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """``(text, text_source)`` of stored articles: edits are re-tagged on the full text."""
        out: dict[int, tuple[str, str]] = {}
        with self._read_core() as conn:
            for chunk in chunks(list(article_ids), 500):
                stmt = select(ArticleRow.id, ArticleRow.text, ArticleRow.text_source).where(
                    ArticleRow.id.in_(chunk)
                )
                out.update({i: (text, source) for i, text, source in conn.execute(stmt)})
        return out

    def record_failure(
        self,
        feed_id: int,
        now: datetime,
        error: str,
        http_status: int | None,
        duration_ms: int,
        schedule: ScheduleUpdate | None = None,
    ) -> None:
        values: dict[str, Any] = {
            "last_checked_at": now,
            "last_status": "error",
            "last_http_status": http_status,
            "last_error": clean(error[:4000]),
            "error_count": FeedRow.error_count + 1,
            "last_new": 0,
            "last_duration_ms": duration_ms,
        }
        if schedule is not None:
            values.update(schedule.values())
        with self._write_core() as conn:
            conn.execute(update(FeedRow).where(FeedRow.id == feed_id).values(**values))

    def record_not_modified(
        self,
        feed_id: int,
        now: datetime,
        etag: str | None,
        last_modified: str | None,
        duration_ms: int,
        schedule: ScheduleUpdate | None = None,
    ) -> None:
        values: dict[str, Any] = {
            "last_checked_at": now,
            "last_success_at": now,
            "last_status": "not_modified",
            "last_http_status": 304,
            "last_error": None,
            "error_count": 0,
            "last_new": 0,
            "last_duration_ms": duration_ms,
        }
        # A 304 may carry fresh validators; keep the old ones when it does not.
        if etag:
            values["etag"] = etag
        if last_modified:
            values["last_modified"] = last_modified
        if schedule is not None:
            values.update(schedule.values())
        with self._write_core() as conn:
            conn.execute(_UPDATE_FEED, {"row_id": feed_id, **values})

    def store_update(self, feed_id: int, write: FeedWrite) -> WriteCounts:
        """Write one feed's update in a single transaction, in set-based statements: one
        lookup of the entries already stored, then the new articles, their index rows,
        entries and tags each in one batch (a statement per entry and field cost 52 % of a
        cold poll). Stories are assigned one article at a time, in the feed's order: each
        new article may be the story of the next."""
        new = updated = linked = 0
        # The rows are made before the transaction: on SQLite writers take turns, and the
        # turn should be spent writing, not cleaning fields and cutting search tokens.
        hashes = [digest(e.entry_key) for e in write.entries]
        # Only entries the pipeline found new can bring a new article (edits update theirs).
        prepared: dict[str, _NewArticle] = {}
        for e in write.entries:
            if not e.changed:
                key_hash = digest(e.article.url_key)
                if key_hash not in prepared:  # the first entry of an article wins
                    prepared[key_hash] = _NewArticle.of(e.article, key_hash, write.now)
        with self._write() as session:
            if write.stories is not None and any(e.article.story_print for e in write.entries):
                self.lock_stories(session)
            stored = self._stored_entries(session, feed_id, hashes)
            # Entries under new guids are looked for only where the feed has older entries:
            # never on a feed's first poll, which is most of a cold start.
            has_history = bool(stored) or self._has_entries_before(session, feed_id, write.now)
            fresh: list[tuple[EntryWrite, str]] = []
            for entry, entry_hash in zip(write.entries, hashes, strict=True):
                outcome = self._store_known_entry(
                    session, feed_id, entry, entry_hash, stored.get(entry_hash), write, has_history
                )
                if outcome == "updated":
                    updated += 1
                elif outcome is None:
                    fresh.append((entry, entry_hash))
            if fresh:
                counts = self._store_new_entries(session, feed_id, fresh, write, prepared)
                new += counts.new
                linked += counts.linked
            feed_values: dict[str, Any] = {
                "last_checked_at": write.now,
                "last_success_at": write.now,
                "last_status": "ok",
                "last_http_status": write.http_status,
                "last_error": None,
                "error_count": 0,
                "etag": write.etag,
                "last_modified": write.last_modified,
                "last_new": new,
                "last_duration_ms": write.duration_ms,
            }
            if write.title:
                feed_values["title"] = clean(write.title)
            if write.site_url:
                feed_values["site_url"] = clean(write.site_url)
            if write.schedule is not None:
                feed_values.update(write.schedule.values())
            # Core, on the transaction's connection: an ORM-enabled UPDATE evaluates its
            # criteria against the session's objects afterwards (1.6 ms per feed, an eighth
            # of the feed threads' time in a cold poll), and this write loads none.
            session.connection().execute(_UPDATE_FEED, {"row_id": feed_id, **feed_values})
        return WriteCounts(new=new, updated=updated, linked=linked)

    def _stored_entries(
        self, session: Session, feed_id: int, hashes: Sequence[str]
    ) -> dict[str, tuple[int, int, str]]:
        """``key_hash → (entry id, article id, content hash)`` of this feed's stored entries
        among ``hashes``."""
        found: dict[str, tuple[int, int, str]] = {}
        for chunk in chunks(list(dict.fromkeys(hashes)), 500):
            rows = session.execute(_STORED_ENTRIES, {"feed_id": feed_id, "hashes": chunk})
            for key_hash, entry_id, article_id, content_hash in rows:
                found[key_hash] = (entry_id, article_id, content_hash)
        return found

    def _has_entries_before(self, session: Session, feed_id: int, now: datetime) -> bool:
        return session.execute(_ENTRY_BEFORE, {"feed_id": feed_id, "now": now}).first() is not None

    def _store_known_entry(
        self,
        session: Session,
        feed_id: int,
        entry: EntryWrite,
        entry_hash: str,
        existing: tuple[int, int, str] | None,
        write: FeedWrite,
        has_history: bool,
    ) -> str | None:
        """ "unchanged" or "updated" for an entry this feed already has (under its key, or
        under an older guid); None for an entry that is new to the feed."""
        if existing is not None:
            entry_id, article_id, old_hash = existing
            if old_hash == entry.content_hash:
                return "unchanged"
            self._update_article(session, article_id, entry.article, write.now)
            session.connection().execute(
                update(EntryRow)
                .where(EntryRow.id == entry_id)
                .values(content_hash=entry.content_hash, guid=clean(entry.guid))
            )
            return "updated"
        renamed = self._renamed_entry(session, feed_id, entry, write) if has_history else None
        if renamed is None:
            return None
        entry_id, article_id = renamed
        self._update_article(session, article_id, entry.article, write.now)
        session.connection().execute(
            update(EntryRow)
            .where(EntryRow.id == entry_id)
            .values(
                key_hash=entry_hash,
                entry_key=clean(entry.entry_key),
                content_hash=entry.content_hash,
                guid=clean(entry.guid),
                categories=join_categories(entry.categories),
            )
        )
        return "updated"

    def _store_new_entries(
        self,
        session: Session,
        feed_id: int,
        fresh: Sequence[tuple[EntryWrite, str]],
        write: FeedWrite,
        prepared: Mapping[str, _NewArticle],
    ) -> WriteCounts:
        """Entries new to the feed: their articles inserted (or, when another feed or an
        earlier entry of this one has the article, linked), indexed, put in stories, then
        the entries and the tags, each kind of row in one batch."""
        conn = session.connection()
        article_hashes = [digest(entry.article.url_key) for entry, _ in fresh]
        first_of: dict[str, EntryWrite] = {}
        for (entry, _), article_hash in zip(fresh, article_hashes, strict=True):
            first_of.setdefault(article_hash, entry)
        # An entry the pipeline took for an edit may be gone by now (pruned meanwhile): its
        # row is made here, inside the turn, rather than for every edit outside it.
        prepared = {
            h: prepared.get(h) or _NewArticle.of(first_of[h].article, h, write.now)
            for h in first_of
        }
        candidates = [prepared[article_hash].row for article_hash in first_of]
        # executemany with RETURNING: SQLAlchemy sends it as multi-row INSERTs of a cached
        # compiled form ("insertmanyvalues"), on both backends.
        inserted: dict[str, int] = {}
        if candidates:
            rows = conn.execute(
                self._insert(ArticleRow)
                .on_conflict_do_nothing(index_elements=["key_hash"])
                .returning(ArticleRow.key_hash, ArticleRow.id),
                candidates,
            )
            inserted.update({key_hash: ident for key_hash, ident in rows})
        article_ids = dict(inserted)
        others = [h for h in first_of if h not in inserted]
        for chunk in chunks(others, 500):
            rows = conn.execute(
                select(ArticleRow.key_hash, ArticleRow.id).where(ArticleRow.key_hash.in_(chunk))
            )
            article_ids.update({key_hash: ident for key_hash, ident in rows})
        # Indexed in this transaction: the index never lags a committed article.
        self.index_tokenized(conn, [(ident, *prepared[h].tokens) for h, ident in inserted.items()])
        if write.stories is not None:
            for article_hash, ident in inserted.items():
                story_print = first_of[article_hash].article.story_print
                if story_print is not None:
                    self.assign_story(session, ident, story_print, write.stories, inserted=True)
        entry_rows = []
        tag_rows: dict[tuple[int, str, str], dict[str, Any]] = {}
        new = linked = 0
        claimed: set[str] = set()
        for (entry, entry_hash), article_hash in zip(fresh, article_hashes, strict=True):
            article_id = article_ids[article_hash]
            if article_hash in inserted and article_hash not in claimed:
                claimed.add(article_hash)
                new += 1
                tags = entry.article.tags
            else:
                linked += 1
                tags = write.feed_tags
            entry_rows.append(
                {
                    "feed_id": feed_id,
                    "key_hash": entry_hash,
                    "entry_key": clean(entry.entry_key),
                    "article_id": article_id,
                    "guid": clean(entry.guid),
                    "content_hash": entry.content_hash,
                    "first_seen_at": write.now,
                    "categories": join_categories(entry.categories),
                }
            )
            for t in tags:
                tag_rows[(article_id, t.tag, t.source)] = _tag_row(article_id, t)
        conn.execute(
            self._insert(EntryRow).on_conflict_do_nothing(index_elements=["feed_id", "key_hash"]),
            entry_rows,
        )
        if tag_rows:
            conn.execute(
                self._insert(ArticleTagRow).on_conflict_do_nothing(), list(tag_rows.values())
            )
        return WriteCounts(new=new, updated=0, linked=linked)

    def _renamed_entry(
        self, session: Session, feed_id: int, entry: EntryWrite, write: FeedWrite
    ) -> tuple[int, int] | None:
        """``(entry id, article id)`` of this feed's stored entry that ``entry`` is, under a
        new guid: one with the same canonical link, else the only one with the same title and
        publication time. Entries the document still carries under their own key are not, nor
        entries of this same update; the title rule needs the document's keys to tell."""
        article = entry.article
        by_link = (
            select(EntryRow.id, EntryRow.article_id, EntryRow.entry_key)
            .join(ArticleRow, ArticleRow.id == EntryRow.article_id)
            .where(
                EntryRow.feed_id == feed_id,
                EntryRow.first_seen_at < write.now,
                ArticleRow.key_hash == digest(article.url_key),
            )
        )
        found = [r for r in session.execute(by_link) if r[2] not in write.document_keys]
        if not found and write.document_keys and article.title and article.published_at is not None:
            by_title = (
                select(EntryRow.id, EntryRow.article_id, EntryRow.entry_key)
                .join(ArticleRow, ArticleRow.id == EntryRow.article_id)
                .where(
                    EntryRow.feed_id == feed_id,
                    EntryRow.first_seen_at < write.now,
                    ArticleRow.title == clean(article.title),
                    ArticleRow.published_at == article.published_at,
                )
                .limit(2)
            )
            rows = [r for r in session.execute(by_title) if r[2] not in write.document_keys]
            if len(rows) == 1:
                found = rows
                # The link moved too: the article follows it unless another article has it.
                new_hash = digest(article.url_key)
                taken = session.execute(
                    select(ArticleRow.id).where(ArticleRow.key_hash == new_hash)
                ).scalar_one_or_none()
                if taken is None:
                    session.execute(
                        update(ArticleRow)
                        .where(ArticleRow.id == rows[0][1])
                        .values(key_hash=new_hash, url=clean(article.url))
                    )
        return (found[0][0], found[0][1]) if len(found) == 1 else None

    def _update_article(
        self, session: Session, article_id: int, article: ArticleWrite, now: datetime
    ) -> None:
        fields = _article_values(article)
        values: dict[str, Any] = {
            "title": fields["title"],
            "summary": fields["summary"],
            "author": fields["author"],
            "updated_at": article.updated_at,
            "content_hash": article.content_hash,
            "changed_at": now,
        }
        if article.published_at is not None:
            values["published_at"] = article.published_at
        current_source = session.execute(
            select(ArticleRow.text_source).where(ArticleRow.id == article_id)
        ).scalar_one()
        # Text taken from the feed follows the feed's edits; extracted page text stays.
        if current_source in ("feed", "none") and article.text_source in ("feed", "none"):
            values.update(text=fields["text"], html=fields["html"], text_source=article.text_source)
        session.connection().execute(
            update(ArticleRow).where(ArticleRow.id == article_id).values(**values)
        )
        # The title always follows the edit, the text sometimes: index what is now stored.
        self.index_stored_article(session, article_id)
        session.execute(
            delete(ArticleTagRow).where(
                ArticleTagRow.article_id == article_id,
                ArticleTagRow.source.in_(("rule", "category", "model")),
            )
        )
        self._add_tags(
            session,
            article_id,
            tuple(t for t in article.tags if t.source in ("rule", "category", "model")),
        )

    def _add_tags(self, session: Session, article_id: int, tags: Sequence[TagAssignment]) -> None:
        if not tags:
            return
        rows = [_tag_row(article_id, t) for t in {(t.tag, t.source): t for t in tags}.values()]
        session.execute(self._insert(ArticleTagRow).values(rows).on_conflict_do_nothing())

    # -- queries ----------------------------------------------------------------------------

    def feed_health(self) -> list[FeedHealth]:
        counts = (
            select(EntryRow.feed_id, func.count().label("n")).group_by(EntryRow.feed_id).subquery()
        )
        stmt = (
            select(FeedRow, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.feed_id == FeedRow.id)
            .order_by(FeedRow.id)
        )
        with self._read() as session:
            return [
                FeedHealth(
                    url=row.url,
                    title=row.title,
                    last_checked_at=row.last_checked_at,
                    last_success_at=row.last_success_at,
                    last_status=row.last_status,
                    last_http_status=row.last_http_status,
                    last_error=row.last_error,
                    error_count=row.error_count,
                    entries=int(n),
                    last_new=row.last_new,
                    last_duration_ms=row.last_duration_ms,
                    next_check_at=row.next_check_at,
                    interval_seconds=row.interval_seconds,
                )
                for row, n in session.execute(stmt)
            ]

    def list_articles(
        self,
        *,
        feed_url: str | None = None,
        tag: str | None = None,
        limit: int = 50,
    ) -> list[ArticleView]:
        first_entry = (
            select(EntryRow.article_id, func.min(EntryRow.id).label("entry_id"))
            .group_by(EntryRow.article_id)
            .subquery()
        )
        when = func.coalesce(ArticleRow.published_at, ArticleRow.first_seen_at)
        stmt = (
            select(ArticleRow, FeedRow.url, FeedRow.title)
            .join(first_entry, first_entry.c.article_id == ArticleRow.id)
            .join(EntryRow, EntryRow.id == first_entry.c.entry_id)
            .join(FeedRow, FeedRow.id == EntryRow.feed_id)
            .order_by(when.desc(), ArticleRow.id.desc())
            .limit(limit)
        )
        if feed_url is not None:
            in_feed = (
                select(EntryRow.article_id)
                .join(FeedRow, FeedRow.id == EntryRow.feed_id)
                .where(FeedRow.url == feed_url)
            )
            stmt = stmt.where(ArticleRow.id.in_(in_feed))
        if tag is not None:
            stmt = stmt.where(
                ArticleRow.id.in_(select(ArticleTagRow.article_id).where(ArticleTagRow.tag == tag))
            )
        with self._read() as session:
            rows = session.execute(stmt).all()
            ids = [article.id for article, _, _ in rows]
            tags: dict[int, list[str]] = {i: [] for i in ids}
            for chunk in chunks(ids, 500):
                tag_rows = session.execute(
                    select(ArticleTagRow.article_id, ArticleTagRow.tag)
                    .where(ArticleTagRow.article_id.in_(chunk))
                    .order_by(ArticleTagRow.article_id, ArticleTagRow.tag)
                )
                for article_id, name in tag_rows:
                    if name not in tags[article_id]:
                        tags[article_id].append(name)
            return [
                ArticleView(
                    id=article.id,
                    feed_url=url,
                    feed_title=title,
                    url=article.url,
                    title=article.title,
                    author=article.author,
                    published_at=article.published_at,
                    first_seen_at=article.first_seen_at,
                    tags=tuple(tags[article.id]),
                    text=article.text,
                    text_source=article.text_source,
                    extract_status=article.extract_status,
                    extract_error=article.extract_error,
                )
                for article, url, title in rows
            ]

    def article_tags(self, article_id: int) -> list[TagAssignment]:
        with self._read() as session:
            rows = session.scalars(
                select(ArticleTagRow).where(ArticleTagRow.article_id == article_id)
            )
            return [
                TagAssignment(r.tag, r.source, r.score, r.detail)  # type: ignore[arg-type]
                for r in rows
            ]

    def counts(self) -> dict[str, int]:
        with self._read() as session:
            return {
                "feeds": session.scalar(select(func.count()).select_from(FeedRow)) or 0,
                "articles": session.scalar(select(func.count()).select_from(ArticleRow)) or 0,
                "entries": session.scalar(select(func.count()).select_from(EntryRow)) or 0,
            }


_FEED_STATE = (
    FeedRow.id,
    FeedRow.url,
    FeedRow.etag,
    FeedRow.last_modified,
    FeedRow.error_count,
    FeedRow.fetch_url,
    FeedRow.interval_seconds,
    FeedRow.redirect_candidate,
    FeedRow.redirect_streak,
    FeedRow.gone,
    FeedRow.last_success_at,
    FeedRow.next_check_at,
    # Each an index probe (both tables' keys start with feed_id), in the read every update
    # makes anyway: a first update then skips the two lookups they would answer with nothing.
    exists().where(EntryRow.feed_id == FeedRow.id).correlate(FeedRow).label("has_entries"),
    exists()
    .where(EntryTombstoneRow.feed_id == FeedRow.id)
    .correlate(FeedRow)
    .label("has_tombstones"),
)

# Built once (see daemon_sql._PUBLISH_HISTORY): a 304 is this read and this write. The
# UPDATE's SET clause is the parameters' columns besides ``row_id``.
_FEED_STATE_BY_URL = select(*_FEED_STATE).where(FeedRow.url == bindparam("url"))
_UPDATE_FEED = update(FeedRow).where(FeedRow.id == bindparam("row_id"))
# And the lookups of every feed update, IN lists as expanding parameters.
_HASHES: BindParameter[str] = bindparam("hashes", expanding=True)
_STORED_ENTRIES = select(
    EntryRow.key_hash, EntryRow.id, EntryRow.article_id, EntryRow.content_hash
).where(EntryRow.feed_id == bindparam("feed_id"), EntryRow.key_hash.in_(_HASHES))
_KNOWN_ARTICLES = select(ArticleRow.key_hash, ArticleRow.id).where(ArticleRow.key_hash.in_(_HASHES))
_ENTRY_BEFORE = (
    select(EntryRow.id)
    .where(EntryRow.feed_id == bindparam("feed_id"), EntryRow.first_seen_at < bindparam("now"))
    .limit(1)
)


def _feed_state(row: Any) -> FeedState:
    """A feed's state from a row of :data:`_FEED_STATE`."""
    return FeedState(
        id=row.id,
        url=row.url,
        etag=row.etag,
        last_modified=row.last_modified,
        error_count=row.error_count,
        fetch_url=row.fetch_url,
        interval_seconds=row.interval_seconds,
        redirect_candidate=row.redirect_candidate,
        redirect_streak=row.redirect_streak,
        gone=row.gone,
        last_success_at=row.last_success_at,
        next_check_at=row.next_check_at,
        has_entries=bool(row.has_entries),
        has_tombstones=bool(row.has_tombstones),
    )


@dataclass(frozen=True, slots=True)
class _NewArticle:
    """An article's row as inserted, and its search tokens, made outside the transaction."""

    row: dict[str, Any]
    tokens: tuple[str, str]

    @classmethod
    def of(cls, article: ArticleWrite, key_hash: str, now: datetime) -> _NewArticle:
        values = _article_values(article)
        row = {"key_hash": key_hash, "first_seen_at": now, "changed_at": now}
        row.update(values)
        tokens = article.search_tokens
        if tokens is None:
            # Before the write transaction, so that the write itself holds the lock less.
            tokens = article_tokens(values["title"], values["text"], values["summary"])
        return cls(row, tokens)


def _tag_row(article_id: int, tag: TagAssignment) -> dict[str, Any]:
    return {
        "article_id": article_id,
        "tag": tag.tag,
        "source": tag.source,
        "score": tag.score,
        "detail": tag.detail,
    }


def _article_values(article: ArticleWrite) -> dict[str, Any]:
    return {
        "url": clean(article.url),
        "title": clean(article.title) or "",
        "author": clean(article.author),
        "summary": clean(article.summary) or "",
        "published_at": article.published_at,
        "updated_at": article.updated_at,
        "text": clean(article.text) or "",
        "html": clean(article.html) or "",
        "text_source": article.text_source,
        "extract_status": article.extract_status,
        "extract_error": clean(article.extract_error),
        "language": (clean(article.language) or "")[:35] or None,
        "image": clean(article.image),
        "content_hash": article.content_hash,
    }
