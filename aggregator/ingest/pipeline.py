"""The update pipeline: the only module that calls every stage, in order.

For one feed::

    store.feed_state(url)                       # validators from the last poll
      | fetch(url, etag, last_modified)          # 304 → record_not_modified, done
      | parse_feed(bytes, headers)               # feedparser / JSON Feed, Korean fixes
                                                 #   (in a PreparePool worker, with the new
                                                 #   entries' feed text and tags, when given)
      | plan_entries(parsed, known entries)      # new / edited / unchanged (pure)
      | fetch article pages of new articles      # threads, per-host limit, SSRF guard
      | extract in the process pool              # trafilatura + fallbacks, time limit
      | tags_for(...)                            # feed tags, categories, rules, topic model
      | store.store_update(one transaction)      # entries, articles, tags, fetch state

It does not decide how to fetch, parse, extract or store: those are the stages' business.
Network I/O and extraction happen before the write transaction opens, never inside it.
A failing feed is recorded on its row and reported; it never stops the other feeds.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol, TypeVar
from zoneinfo import ZoneInfo

from aggregator.config.schema import Config, FeedConfig
from aggregator.errors import AggregatorError, ExtractError, FetchError, Interrupted
from aggregator.ingest.decide import (
    PlannedEntry,
    content_hash,
    document_keys,
    plan_entries,
    redirect_state,
    take_newest,
)
from aggregator.ingest.extract.article import entry_feed_html, entry_feed_text
from aggregator.ingest.fetch import Fetcher
from aggregator.ingest.parse.feed import parse_feed
from aggregator.ingest.prepare import (
    Prepared,
    PreparedByEntry,
    PreparedEntry,
    PrepareUnavailable,
)
from aggregator.ingest.schedule import (
    SchedulePolicy,
    ServerHints,
    error_backoff,
    hints_from_response,
    next_check_time,
    next_interval,
    parse_retry_after,
)
from aggregator.ingest.tag.rules import (
    FeedContext,
    Tagging,
    TagInput,
    tags_for,
    tags_for_many,
)
from aggregator.models import (
    ExtractedArticle,
    FeedUpdateResult,
    FetchResult,
    StoryPrint,
    TagAssignment,
)
from aggregator.store.protocol import Store
from aggregator.store.records.updates import (
    ArticleWrite,
    EntryWrite,
    FeedState,
    FeedWrite,
    KnownEntry,
    ScheduleUpdate,
)

if TYPE_CHECKING:
    from aggregator.ingest.tag.loader import Tagger

__all__ = [
    "Control",
    "Extractor",
    "PageWork",
    "PlannedEntry",
    "Preparer",
    "Services",
    "content_hash",
    "plan_entries",
    "poll_feeds",
    "schedule_policy",
    "update_feed",
    "update_feed_safely",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"


class Extractor(Protocol):
    """What the pipeline needs from extraction: submit a page, get a future."""

    def submit(
        self,
        body: bytes,
        url: str,
        *,
        content_type: str = "",
        feed_title: str | None = None,
        feed_content: str = "",
    ) -> Future[ExtractedArticle]: ...


class Preparer(Protocol):
    """Parsing and the new entries' feed text and tags, elsewhere (see
    :mod:`aggregator.ingest.prepare`): submit a document, get a future (None: parse it
    here)."""

    def submit(
        self, body: bytes, url: str, headers: Mapping[str, str], feed: FeedConfig
    ) -> Future[Prepared] | None: ...


class PageRegistry:
    """Article pages being (or just) fetched and extracted, by article identity.

    Section feeds polled at the same time carry the same articles; without this, each feed
    would fetch and extract the same page before either had stored it. Results stay for a
    registry until the feed that stored them has committed (then :meth:`forget`), and at most
    ``capacity`` of them, so memory stays bounded in a long run.
    """

    def __init__(self, capacity: int = 2_000) -> None:
        self._capacity = capacity
        self._futures: OrderedDict[str, Future[ArticleWrite]] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_submit(
        self, key: str, submit: Callable[[], Future[ArticleWrite]]
    ) -> tuple[Future[ArticleWrite], bool]:
        """The future for ``key``, submitting it if nobody has; True when it is ours."""
        with self._lock:
            future = self._futures.get(key)
            if future is not None:
                self._futures.move_to_end(key)
                return future, False
            future = submit()
            self._futures[key] = future
            while len(self._futures) > self._capacity:
                self._futures.popitem(last=False)
            return future, True

    def forget(self, keys: Sequence[str]) -> None:
        """Drop pages whose articles are now stored: later polls find them in the store."""
        with self._lock:
            for key in keys:
                self._futures.pop(key, None)


@dataclass(frozen=True, slots=True)
class PageWork:
    """Fetching and extracting article pages: the page threads, the extraction process pool,
    and the pages in flight (shared by the feeds polled at the same time)."""

    extractor: Extractor
    pool: ThreadPoolExecutor
    registry: PageRegistry = field(default_factory=PageRegistry)


@dataclass(frozen=True, slots=True)
class Control:
    """The clock, the random source of jitter, and the stop signal (set on shutdown: no new
    page is fetched, waits end, in-flight feeds stop early). ``on_pages(queued, done)`` hears
    of article pages as a feed queues them and as each is fetched and extracted (from the
    feed threads): a progress display counts pages, not only feeds, since one feed's pages
    can take minutes."""

    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    stop: threading.Event = field(default_factory=threading.Event)
    rng: random.Random = field(default_factory=random.Random)
    on_pages: Callable[[int, int], None] | None = None


@dataclass(frozen=True, slots=True)
class Services:
    """Everything an update needs, passed in: no globals. ``tagger`` is what was loaded for
    tagging (the model, the analyser), ``tagging`` how the current config tags with it;
    ``prepare``, when given, parses and tags feeds without full text in worker processes
    (with the same config and model)."""

    config: Config
    store: Store
    fetcher: Fetcher
    pages: PageWork
    tagger: Tagger
    tagging: Tagging
    control: Control = field(default_factory=Control)
    prepare: Preparer | None = None


_POLL_SECONDS = 0.25


def _result(future: Future[T], services: Services) -> T:
    """``future.result()``, giving up when the services are told to stop."""
    while True:
        try:
            return future.result(timeout=_POLL_SECONDS)
        except TimeoutError:
            if services.control.stop.is_set():
                future.cancel()
                raise Interrupted("shutting down") from None


def _article_from_feed(
    planned: PlannedEntry,
    *,
    status: str,
    error: str | None,
    language: str | None,
    feed_text: tuple[str, str] | None = None,
    search_tokens: tuple[str, str] | None = None,
) -> ArticleWrite:
    entry = planned.entry
    text, html = feed_text or entry_feed_text(entry)
    return ArticleWrite(
        url_key=planned.url_key,
        url=entry.link,
        title=entry.title,
        summary=entry.summary,
        author=entry.author,
        published_at=entry.published or entry.updated,
        updated_at=entry.updated,
        text=text,
        html=html,
        text_source="feed" if text else "none",
        extract_status=status,
        extract_error=error,
        language=language,
        image=entry.image,
        content_hash=planned.content_hash,
        search_tokens=search_tokens,
    )


def _article_from_page(
    planned: PlannedEntry, extracted: ExtractedArticle, language: str | None
) -> ArticleWrite:
    entry = planned.entry
    return ArticleWrite(
        url_key=planned.url_key,
        url=entry.link,
        title=entry.title or (extracted.title or ""),
        summary=entry.summary,
        author=entry.author or extracted.author,
        published_at=entry.published or entry.updated or extracted.date,
        updated_at=entry.updated,
        text=extracted.text,
        html=extracted.html,
        text_source=extracted.source,
        extract_status="ok" if extracted.source not in ("feed", "none") else "fallback",
        extract_error=None,
        language=extracted.language or language,
        image=entry.image or extracted.image,
        content_hash=planned.content_hash,
    )


def _fetch_and_extract(
    planned: PlannedEntry, feed: FeedConfig, feed_title: str | None, services: Services
) -> ArticleWrite:
    """Page fetch (in a page thread) then extraction (in the process pool)."""
    entry = planned.entry
    assert entry.link is not None
    if services.control.stop.is_set():
        raise Interrupted("shutting down")
    try:
        page = services.fetcher.fetch(entry.link, accept=PAGE_ACCEPT)
        future = services.pages.extractor.submit(
            page.content,
            page.final_url,
            content_type=page.content_type,
            feed_title=feed_title,
            feed_content=entry_feed_html(entry),
        )
        extracted = _result(future, services)
    except (FetchError, ExtractError) as exc:
        log.info("article extraction failed feed=%s entry=%s error=%s", feed.url, entry.link, exc)
        return _article_from_feed(planned, status="failed", error=str(exc), language=feed.language)
    except Interrupted:
        raise
    except Exception as exc:
        # One article's failure, whatever it is, is that article's alone: the rest of the
        # feed is stored (a bug here must not cost a feed every poll).
        log.warning(
            "article page failed feed=%s entry=%s error=%s: %s",
            feed.url,
            entry.link,
            type(exc).__name__,
            exc,
            exc_info=True,
        )
        error = f"internal error: {type(exc).__name__}: {exc}"
        return _article_from_feed(planned, status="failed", error=error, language=feed.language)
    return _article_from_page(planned, extracted, feed.language)


def _articles_for(
    planned: Sequence[PlannedEntry],
    existing_articles: dict[str, int],
    feed: FeedConfig,
    feed_title: str | None,
    services: Services,
    prepared: PreparedByEntry,
) -> tuple[dict[str, ArticleWrite], set[str]]:
    """ArticleWrite per entry key, fetched and extracted for new articles when enabled.
    ``prepared`` holds feed texts already made, by ``id()`` of the entry.

    Also returns the keys whose page this feed extracted itself (not another feed's).
    """
    articles: dict[str, ArticleWrite] = {}
    futures: dict[Future[ArticleWrite], list[str]] = {}
    ours: set[str] = set()
    for item in planned:
        needs_page = (
            feed.full_text
            and not item.changed
            and item.entry.link is not None
            and item.url_key not in existing_articles
        )
        if needs_page:
            future, submitted = services.pages.registry.get_or_submit(
                item.url_key,
                lambda item=item: services.pages.pool.submit(  # type: ignore[misc]
                    _fetch_and_extract, item, feed, feed_title, services
                ),
            )
            futures.setdefault(future, []).append(item.key)
            if submitted:
                ours.add(item.key)
        else:
            status = "skipped" if not feed.full_text or item.entry.link is None else "kept"
            made = prepared.get(id(item.entry))
            articles[item.key] = _article_from_feed(
                item,
                status=status,
                error=None,
                language=feed.language,
                feed_text=made.text if made else None,
                search_tokens=made.search_tokens if made else None,
            )
    by_key = {item.key: item for item in planned}
    pending = set(futures)
    on_pages = services.control.on_pages
    # Pages this feed fetches itself; one another feed fetches is counted there.
    counted = {f for f, keys in futures.items() if ours.intersection(keys)}
    if on_pages is not None and counted:
        on_pages(len(counted), 0)
    while pending:
        done, pending = wait(pending, timeout=_POLL_SECONDS, return_when=FIRST_COMPLETED)
        if services.control.stop.is_set() and pending:
            for future in pending:
                future.cancel()
            raise Interrupted("shutting down")
        for future in done:
            if on_pages is not None and future in counted:
                on_pages(0, 1)
            shared = future.result()
            for key in futures[future]:
                # Another feed may have fetched this page: keep its text, but this entry's
                # own title, summary and hash, so edit detection stays per feed.
                own = by_key[key]
                articles[key] = replace(
                    shared,
                    title=own.entry.title or shared.title,
                    summary=own.entry.summary,
                    content_hash=own.content_hash,
                )
    return articles, ours


def _tag_text(
    item: PlannedEntry,
    article: ArticleWrite,
    known: dict[str, KnownEntry],
    stored_texts: dict[int, tuple[str, str]],
) -> str:
    """The text to tag on: an edited entry keeps the full text extracted earlier."""
    if item.changed and item.key in known:
        text, source = stored_texts.get(known[item.key].article_id, ("", "none"))
        if source not in ("feed", "none") and text:
            return text
    return article.text


def _story_print(
    article: ArticleWrite, services: Services, made: PreparedEntry | None = None
) -> StoryPrint | None:
    """The article's story print, computed here so the write transaction stays short (or
    by the parse worker, for an article made of the feed's entry alone)."""
    config = services.config.stories
    if not config.enabled:
        return None
    if made is not None and made.has_print and article.text_source in ("feed", "none"):
        return made.story_print
    from aggregator.ingest.stories import fingerprint

    return fingerprint(
        article.title,
        article.text or article.summary,
        language=article.language,
        seen_at=article.published_at or services.control.clock(),
        min_text_chars=config.min_text_chars,
    )


def _prepared(fetched: FetchResult, feed: FeedConfig, services: Services) -> Prepared | None:
    """The document parsed, and its entries' feed text and tags, by the services' prepare
    pool (feeds without full text only); None when there is none or it cannot serve (then
    the caller parses in-process). Raises ParseError as parse_feed does."""
    if services.prepare is None or feed.full_text:
        return None
    try:
        future = services.prepare.submit(fetched.content, fetched.final_url, fetched.headers, feed)
        return None if future is None else _result(future, services)
    except PrepareUnavailable as exc:
        log.warning("feed %s: parsed in-process: %s", feed.url, exc)
        return None


def update_feed(feed: FeedConfig, services: Services) -> FeedUpdateResult:
    """One update of one feed. Errors are recorded on the feed and returned, not raised."""
    started = time.monotonic()
    store = services.store

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    # The schedule's history comes with the state: one read, whatever the response.
    history_since = services.control.clock() - timedelta(
        days=schedule_policy(services.config).history_days
    )
    state = store.feed_state(feed.url, history_since=history_since)
    if state is None:
        store.sync_feeds([(feed.url, feed.title)], services.control.clock())
        state = store.feed_state(feed.url, history_since=history_since)
        assert state is not None
    http_status: int | None = None
    try:
        fetched = services.fetcher.fetch(
            state.effective_url,
            etag=state.etag,
            last_modified=state.last_modified,
            accept=FEED_ACCEPT,
        )
        http_status = fetched.status
        if fetched.not_modified:
            now = services.control.clock()
            hints = hints_from_response(fetched.headers, now)
            store.record_not_modified(
                state.id,
                now,
                fetched.etag,
                fetched.last_modified,
                elapsed(),
                schedule=_schedule_after_success(state, services, now, [], False, hints, fetched),
            )
            return _logged(
                FeedUpdateResult(feed.url, "not_modified", ms=elapsed(), http_status=304)
            )
        prepared = _prepared(fetched, feed, services)
        if prepared is not None:
            parsed = prepared.parsed
        else:
            parsed = parse_feed(
                fetched.content,
                fetched.final_url,
                fetched.headers,
                services.config.limits.fields(),
            )
    except Interrupted:
        raise
    except AggregatorError as exc:
        retry_after: str | None = None
        if isinstance(exc, FetchError):
            http_status = exc.status
            retry_after = exc.retry_after if exc.status in (429, 503) else None
        now = services.control.clock()
        store.record_failure(
            state.id,
            now,
            str(exc),
            http_status,
            elapsed(),
            schedule=_schedule_after_error(state, services, now, http_status, retry_after),
        )
        return _logged(
            FeedUpdateResult(
                feed.url, "error", ms=elapsed(), error=str(exc), http_status=http_status
            )
        )

    for warning in parsed.warnings:
        # Ill-formed XML, an unknown format, fields cut to the limits: the operator should see
        # what a feed sends.
        log.warning("feed %s: %s", feed.url, warning)
    known = store.known_entries(state.id, document_keys(parsed)) if state.has_entries else {}
    planned = plan_entries(feed.url, parsed, {k: v.content_hash for k, v in known.items()})
    # Entries pruned by retention stay pruned while the feed still carries them. Only a feed
    # with neither entries nor tombstones when its state was read can have none now: one with
    # entries may have had them pruned while its document was fetched.
    pruned = (
        store.tombstoned(state.id, [p.key for p in planned if not p.changed])
        if state.has_entries or state.has_tombstones
        else set()
    )
    if pruned:
        planned = [p for p in planned if p.key not in pruned]
    planned, deferred = take_newest(planned, services.config.limits.entries_per_poll)
    if deferred:
        log.warning(
            "feed %s: %d new entries; storing the newest %d now, the rest on the next polls",
            feed.url,
            deferred + services.config.limits.entries_per_poll,
            services.config.limits.entries_per_poll,
        )
    new_keys = [p.url_key for p in planned if not p.changed]
    existing_articles = store.known_articles(new_keys)
    feed_title = feed.title or parsed.title or None
    made = prepared.by_entry() if prepared is not None else {}
    articles, ours = _articles_for(planned, existing_articles, feed, feed_title, services, made)
    stored_texts = store.article_texts(
        [known[p.key].article_id for p in planned if p.changed and p.key in known]
    )

    writes: list[EntryWrite] = []
    extracted = failed = 0
    context = FeedContext(url=feed.url, title=feed_title, tags=feed.tags)
    # A new entry's tags may have come with the parse; the rest (an edited entry is tagged
    # on its stored full text) are tagged together: the model reads them in one batch.
    all_tags: list[tuple[TagAssignment, ...] | None] = [
        None if item.changed or id(item.entry) not in made else made[id(item.entry)].tags
        for item in planned
    ]
    todo = [i for i, tags in enumerate(all_tags) if tags is None]
    tagged = (
        tags_for_many(
            [
                TagInput(
                    title=articles[planned[i].key].title,
                    text=_tag_text(planned[i], articles[planned[i].key], known, stored_texts),
                    categories=planned[i].entry.categories,
                    link=planned[i].entry.link,
                )
                for i in todo
            ],
            context,
            services.tagging,
        )
        if todo
        else []
    )
    for i, fresh_tags in zip(todo, tagged, strict=True):
        all_tags[i] = fresh_tags
    for item, entry_tags in zip(planned, all_tags, strict=True):
        assert entry_tags is not None
        article = articles[item.key]
        if item.key in ours:
            extracted += article.extract_status in ("ok", "fallback")
            failed += article.extract_status == "failed"
        writes.append(
            EntryWrite(
                entry_key=item.key,
                guid=item.entry.guid,
                content_hash=item.content_hash,
                article=replace(
                    article,
                    tags=entry_tags,
                    # Only a new article gets a story; one already stored keeps its own.
                    story_print=None
                    if item.changed or item.url_key in existing_articles
                    else _story_print(article, services, made.get(id(item.entry))),
                ),
                changed=item.changed,
                categories=tuple(item.entry.categories),
            )
        )
    feed_tags = tags_for(TagInput(title=""), FeedContext(tags=feed.tags), services.tagging)
    now = services.control.clock()
    new_entries = [p.entry for p in planned if not p.changed]
    all_new = (
        state.last_success_at is not None
        and bool(parsed.entries)
        and len(new_entries) + len(pruned) >= len(parsed.entries)
    )
    hints = hints_from_response(
        fetched.headers,
        now,
        ttl_minutes=parsed.ttl_minutes,
        update_period_minutes=parsed.update_period_minutes,
    )
    fresh = [e.published or now for e in new_entries]
    schedule = _schedule_after_success(state, services, now, fresh, all_new, hints, fetched)
    if deferred:
        # The rest soon, and without validators: a 304 would hide the entries still to store.
        soon = now + services.config.schedule.min_interval
        schedule = replace(schedule, next_check_at=min(schedule.next_check_at, soon))
    counts = store.store_update(
        state.id,
        FeedWrite(
            now=now,
            entries=tuple(writes),
            title=feed.title or parsed.title or None,
            site_url=parsed.link,
            etag=None if deferred else fetched.etag,
            last_modified=None if deferred else fetched.last_modified,
            http_status=http_status,
            duration_ms=elapsed(),
            feed_tags=feed_tags,
            schedule=schedule,
            stories=services.config.stories.match() if services.config.stories.enabled else None,
            document_keys=frozenset(document_keys(parsed)),
        ),
    )
    services.pages.registry.forget([p.url_key for p in planned])
    return _logged(
        FeedUpdateResult(
            feed.url,
            "ok",
            new=counts.new,
            updated=counts.updated,
            extracted=extracted,
            extract_failed=failed,
            ms=elapsed(),
            http_status=http_status,
            entries_seen=len(parsed.entries),
            linked=counts.linked,
            extra={"warnings": parsed.warnings},
        )
    )


def schedule_policy(config: Config) -> SchedulePolicy:
    schedule = config.schedule
    return SchedulePolicy(
        min_interval=schedule.min_interval,
        max_interval=schedule.max_interval,
        error_cap=schedule.error_cap,
        jitter=schedule.jitter,
        timezone=ZoneInfo(config.display.timezone),
    )


def _schedule_after_success(
    state: FeedState,
    services: Services,
    now: datetime,
    fresh: Sequence[datetime],
    all_new: bool,
    hints: ServerHints,
    fetched: FetchResult,
) -> ScheduleUpdate:
    policy = schedule_policy(services.config)
    history = (
        state.publish_history
        if state.publish_history is not None
        else services.store.publish_history(state.id, now - timedelta(days=policy.history_days))
    )
    interval = next_interval(
        policy=policy,
        published=[*history, *fresh],
        now=now,
        all_new=all_new,
        hints=hints,
    )
    fetch_url, candidate, streak = redirect_state(state, fetched)
    return ScheduleUpdate(
        next_check_at=next_check_time(now, interval, services.control.rng, policy),
        interval_seconds=int(interval.total_seconds()),
        gone=False,
        fetch_url=fetch_url,
        redirect_candidate=candidate,
        redirect_streak=streak,
    )


def _schedule_after_error(
    state: FeedState,
    services: Services,
    now: datetime,
    http_status: int | None,
    retry_after_header: str | None,
) -> ScheduleUpdate:
    policy = schedule_policy(services.config)
    retry_after = parse_retry_after(retry_after_header, now)
    gone = http_status == 410
    wait = error_backoff(
        policy=policy, error_count=state.error_count + 1, retry_after=retry_after, gone=gone
    )
    return ScheduleUpdate(
        next_check_at=next_check_time(
            now, wait, services.control.rng, policy, retry_after=retry_after
        ),
        interval_seconds=int(wait.total_seconds()),
        gone=gone,
        fetch_url=state.fetch_url,
        redirect_candidate=state.redirect_candidate,
        redirect_streak=state.redirect_streak,
    )


def _logged(result: FeedUpdateResult) -> FeedUpdateResult:
    fields: dict[str, object] = {
        "feed": result.feed_url,
        "status": result.status,
        "new": result.new,
        "updated": result.updated,
        "extracted": result.extracted,
        "ms": result.ms,
    }
    if result.error:
        fields["error"] = result.error
    log.info("feed updated", extra={"fields": fields})
    return result


def update_feed_safely(feed: FeedConfig, services: Services) -> FeedUpdateResult:
    """:func:`update_feed`, with every failure recorded on the feed and reported."""
    try:
        return update_feed(feed, services)
    except Interrupted:
        return FeedUpdateResult(feed.url, "error", error="interrupted: shutting down")
    except AggregatorError as exc:
        # A store problem (locked, unreachable, a value the database refuses).
        error = str(exc)
    except Exception as exc:
        # Not an input problem: a bug. Log the traceback, report it, keep polling the rest.
        log.exception("unexpected error while updating feed=%s", feed.url)
        error = f"internal error: {type(exc).__name__}: {exc}"
    _record_failure(feed, services, error)
    return _logged(FeedUpdateResult(feed.url, "error", error=error))


def _record_failure(feed: FeedConfig, services: Services, error: str) -> None:
    try:
        state = services.store.feed_state(feed.url)
        if state is not None:
            services.store.record_failure(state.id, services.control.clock(), error, None, 0)
    except AggregatorError as exc:
        log.error("cannot record the failure of feed=%s: %s", feed.url, exc)


def poll_feeds(
    feeds: Sequence[FeedConfig],
    services: Services,
    *,
    on_result: Callable[[FeedUpdateResult], None] | None = None,
) -> list[FeedUpdateResult]:
    """Update ``feeds`` concurrently (``fetch.concurrency`` at once); one result each."""
    services.store.sync_feeds([(f.url, f.title) for f in feeds], services.control.clock())
    results: list[FeedUpdateResult] = []
    workers = max(1, min(services.config.fetch.concurrency, len(feeds)))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="feed")
    try:
        futures = [pool.submit(update_feed_safely, feed, services) for feed in feeds]
        for future in as_completed(futures):
            result = future.result()
            results.append(result)
            if on_result is not None:
                on_result(result)
    except BaseException:
        # Ctrl-C: start no new feed, and tell the ones in flight to stop early. A feed
        # already writing commits whole; the others write nothing.
        services.control.stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    order = {f.url: i for i, f in enumerate(feeds)}
    results.sort(key=lambda r: order.get(r.feed_url, 0))
    return results
