"""The CPU-bound half of a feed update in worker processes, for a poll of many feeds.

A poll of many feeds without full text is CPU-bound in one process: the GIL runs one feed
thread's Python at a time, and parsing the document (feedparser), the entries' feed text and
their tags are about 40 % of that CPU (py-spy, a cold poll of 200 feeds × 20 items), and
the search tokens and story prints of the new articles another 12 % of what remains.
:class:`PreparePool` runs that half, :func:`prepare_feed`, in worker processes while the feed
threads go on fetching, planning and writing. The pipeline takes what comes back for the new
entries of feeds without full text and does the rest as always (an edited entry is tagged on
the full text stored for it; a full-text feed's entries on their pages).

Only ``aggregator poll`` of many feeds uses it (a first poll, or polls from cron), and only
once :data:`PARSE_HERE_FIRST` documents have been parsed in the feed threads: a daemon's
tick polls a few feeds at a time, and a worker holding the topic model would cost it ~70 MiB
for the rest of its life. One worker keeps up with the feed threads of one process (they
are the bottleneck: fetching, planning, the store's write); a second helps little.

It also bounds parsing: a document that keeps its worker busy past the time limit (a minute,
and 4 s more per MB of the document) becomes that feed's error ("parsing timed out after
60s") and the worker is replaced; in-process it would hold a feed thread for as long as it
took. Where the pool cannot serve at all (its workers cannot start, it is broken or closed)
the caller is told with :class:`PrepareUnavailable` and parses in-process; once a worker has
said so, :meth:`PreparePool.submit` leaves every later document to the caller.

The pool is pebble's, for the reasons given in :mod:`aggregator.ingest.extract.pool`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from aggregator.errors import Interrupted, ParseError
from aggregator.ingest.extract.article import entry_feed_text
from aggregator.ingest.parse.feed import parse_feed
from aggregator.ingest.stories import fingerprint
from aggregator.ingest.tag.rules import FeedContext, TagInput, tags_for_many
from aggregator.models import FieldLimits, ParsedEntry, ParsedFeed, StoryPrint, TagAssignment
from aggregator.text.search import article_tokens

if TYPE_CHECKING:
    from aggregator.config.schema import Config, FeedConfig
    from aggregator.ingest.tag.rules import Tagging

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_WORKERS",
    "PARSE_HERE_FIRST",
    "SECONDS_PER_MB",
    "PreparePool",
    "PrepareUnavailable",
    "Prepared",
    "PreparedByEntry",
    "PreparedEntry",
    "prepare_feed",
    "prepare_in_worker",
]

DEFAULT_TIMEOUT = 60.0
# Added to a document's time limit per MB: feedparser takes 1.5 s per MB of a 50,000-entry
# document here, and `fetch.max_body_mb` admits up to 200 MB. A slow legitimate document must
# not become an error that a poll in-process (the daemon) would not have.
SECONDS_PER_MB = 4.0
MAX_WORKERS = 2
# The first documents of a poll are parsed in the feed threads and the workers start with the
# next one: a poll with fewer documents to parse (most feeds answering 304) never pays for
# them. Starting them at once cost a poll of 200 feeds, 10 of them changed, 0.3 s more
# (1.65 s against 1.34 s) and 93 MiB.
PARSE_HERE_FIRST = 20

Tags = tuple[TagAssignment, ...]


@dataclass(frozen=True, slots=True)
class PreparedEntry:
    """What a worker made of one entry, as a new entry of a feed without full text: its feed
    text ``(text, html)``; its tags, search tokens and story print (None where the worker
    left them to the pipeline: tags and tokens of a document longer than a poll stores,
    prints when stories are off or the entry has no date, its print's time then being the
    pipeline's clock). ``story_print`` holds the print when ``has_print``; the print itself
    may be None (a text too short to tell stories apart)."""

    text: tuple[str, str]
    tags: Tags | None = None
    search_tokens: tuple[str, str] | None = None
    has_print: bool = False
    story_print: StoryPrint | None = None


PreparedByEntry = Mapping[int, PreparedEntry]
"""What the workers made, by ``id()`` of the entry object."""


class PrepareUnavailable(Exception):
    """The pool cannot take this document (its workers cannot start, it is broken or closed):
    parse it in-process. Not an AggregatorError: it is no fault of the feed."""


_NO_PRINTS: tuple[Literal[False]] = (False,)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A parsed feed and, for each of its entries in order, its feed text ``(text, html)``,
    and as a new entry of a feed without full text its tags and search tokens (None for all
    of them when the feed had more entries than a poll stores, which the pipeline then makes
    itself) and its story print (``prints``: None when stories are off; an entry without a
    date is ``False``, left to the pipeline). Parallel tuples: they cross the process border
    pickled, and tuples pickle in a fraction of the time of records."""

    parsed: ParsedFeed
    texts: tuple[tuple[str, str], ...]
    tags: tuple[Tags, ...] | None
    tokens: tuple[tuple[str, str], ...] | None = None
    prints: tuple[StoryPrint | Literal[False] | None, ...] | None = None

    def by_entry(self) -> PreparedByEntry:
        """What was made, by ``id()`` of the entry object: a plan holds these very objects."""
        count = len(self.texts)
        tags: tuple[Tags | None, ...] = self.tags or (None,) * count
        tokens: tuple[tuple[str, str] | None, ...] = self.tokens or (None,) * count
        prints: tuple[StoryPrint | Literal[False] | None, ...] = self.prints or _NO_PRINTS * count
        return {
            id(entry): PreparedEntry(
                text=text,
                tags=entry_tags,
                search_tokens=entry_tokens,
                has_print=entry_print is not False,
                story_print=entry_print or None,
            )
            for entry, text, entry_tags, entry_tokens, entry_print in zip(
                self.parsed.entries, self.texts, tags, tokens, prints, strict=True
            )
        }


def prepare_feed(
    body: bytes,
    url: str,
    headers: Mapping[str, str] | None,
    limits: FieldLimits,
    feed: FeedConfig,
    tagging: Tagging,
    *,
    tag_at_most: int,
    story_min_chars: int | None = None,
) -> Prepared:
    """Parse ``body`` and make for every entry what the pipeline makes of a new entry of a
    feed without full text: its tags on its title and feed text, its search tokens, and its
    story print (with ``story_min_chars``, the stories' ``min_text_chars``; None: stories
    off). A document of more than ``tag_at_most`` entries (a poll stores that many: which
    ones, the pipeline decides) gets its feed texts only. Raises ParseError as
    :func:`parse_feed` does."""
    parsed = parse_feed(body, url, headers, limits)
    texts = tuple(entry_feed_text(entry) for entry in parsed.entries)
    if len(parsed.entries) > tag_at_most:
        return Prepared(parsed, texts, None)
    context = FeedContext(url=feed.url, title=feed.title or parsed.title or None, tags=feed.tags)
    tags = tags_for_many(
        [
            TagInput(title=e.title, text=text, categories=e.categories, link=e.link)
            for e, (text, _html) in zip(parsed.entries, texts, strict=True)
        ],
        context,
        tagging,
    )
    tokens = tuple(
        article_tokens(e.title, text, e.summary)
        for e, (text, _html) in zip(parsed.entries, texts, strict=True)
    )
    prints = None
    if story_min_chars is not None:
        prints = tuple(
            _story_print(e, text, feed.language, story_min_chars)
            for e, (text, _html) in zip(parsed.entries, texts, strict=True)
        )
    return Prepared(parsed, texts, tuple(tags), tokens, prints)


def _story_print(
    entry: ParsedEntry, text: str, language: str | None, min_chars: int
) -> StoryPrint | Literal[False] | None:
    """The print the pipeline would give this entry's article, seen at its date; False when
    it has none (the pipeline's clock is the time then)."""
    seen_at = entry.published or entry.updated
    if seen_at is None:
        return False
    return fingerprint(
        entry.title,
        text or entry.summary,
        language=language,
        seen_at=seen_at,
        min_text_chars=min_chars,
    )


# -- the worker side ---------------------------------------------------------------------------

# A worker process's tagging, or why it has none, set by its initializer from the poll's
# config: a pool's initializer has nowhere else to put it.
_worker_tagging: Tagging | None = None
_worker_failure: str | None = None
_worker_tag_at_most = 0
_worker_story_chars: int | None = None

Outcome = tuple[Literal["ok", "error", "unavailable"], Any]


def _start_worker(config: Config, learned: tuple[str, bytes] | None) -> None:
    """Load the tagger once per worker. A failure is kept and reported with each task, not
    raised: pebble would restart a worker whose initializer fails, forever, and the tasks
    would wait for it."""
    import logging

    from aggregator.ingest.tag.loader import open_tagger, tagging_for, with_learned

    global _worker_tagging, _worker_failure, _worker_tag_at_most, _worker_story_chars
    # Warnings about a document are the pipeline's to log: they come back in the result.
    logging.getLogger("aggregator").setLevel(logging.ERROR)
    try:
        tagger = with_learned(config, open_tagger(config), learned)
        _worker_tagging = tagging_for(config, tagger)
        _worker_tag_at_most = config.limits.entries_per_poll
        stories = config.stories
        _worker_story_chars = stories.min_text_chars if stories.enabled else None
    except Exception as exc:
        _worker_failure = f"the parse worker could not load the tagger: {exc}"


def prepare_in_worker(
    body: bytes, url: str, headers: dict[str, str], limits: FieldLimits, feed: FeedConfig
) -> Outcome:
    """The pool's task: ``("ok", Prepared)``, ``("error", message)`` for a document that is
    no feed, ``("unavailable", why)`` for a worker without a tagger."""
    if _worker_tagging is None:
        return ("unavailable", _worker_failure or "the parse worker did not start")
    try:
        prepared = prepare_feed(
            body,
            url,
            headers,
            limits,
            feed,
            _worker_tagging,
            tag_at_most=_worker_tag_at_most,
            story_min_chars=_worker_story_chars,
        )
    except ParseError as exc:
        # Sent as text: FeedError subclasses take extra constructor arguments and lose them
        # when pickled.
        return ("error", str(exc))
    return ("ok", prepared)


# -- the pool ----------------------------------------------------------------------------------


class PreparePool:
    """Worker processes that run :func:`prepare_feed` with the tagging of ``config`` (and the
    model ``aggregator tags learn`` stored, ``learned``), each document within ``timeout``
    plus :data:`SECONDS_PER_MB` per MB of it.
    The first ``parse_here_first`` documents are left to the caller (:meth:`submit` returns
    None). ``target`` replaces the worker's task (tests pass ones that hang or die); it must
    be a module-level function."""

    def __init__(
        self,
        config: Config,
        learned: tuple[str, bytes] | None,
        *,
        workers: int,
        timeout: float = DEFAULT_TIMEOUT,
        parse_here_first: int = PARSE_HERE_FIRST,
        target: Callable[..., Outcome] = prepare_in_worker,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.workers = workers
        self.timeout = timeout
        self._config = config
        self._learned = learned
        self._limits = config.limits.fields()
        self._target = target
        self._parse_here = parse_here_first
        self._pool: Any = None
        self._closed = False
        self._pending: set[Future[Prepared]] = set()
        self._lock = threading.Lock()
        # Why the workers cannot serve, once one has said so: every later document is the
        # caller's to parse, so that a poll logs it for the documents already sent, not for
        # every feed left.
        self._unavailable: str | None = None

    def submit(
        self, body: bytes, url: str, headers: Mapping[str, str], feed: FeedConfig
    ) -> Future[Prepared] | None:
        """Schedule one document, or return None: the caller parses it (one of the first,
        or the workers have said they cannot serve). The future yields :class:`Prepared`,
        or raises ParseError (not a feed, timed out, its worker died),
        :class:`PrepareUnavailable`, or Interrupted (the pool was closed first)."""
        result: Future[Prepared] = Future()
        timeout = self.timeout + SECONDS_PER_MB * len(body) / 1e6
        with self._lock:
            # Under the lock: close() must not run between the start and the schedule.
            if self._closed:
                raise PrepareUnavailable("the parse pool is closed")
            if self._unavailable is not None:
                return None
            if self._parse_here > 0:
                self._parse_here -= 1
                return None
            try:
                inner = self._started().schedule(
                    self._target,
                    args=(body, url, dict(headers), self._limits, feed),
                    timeout=timeout,
                )
            except RuntimeError as exc:  # pebble: the pool is no longer running
                self._unavailable = f"the parse pool stopped: {exc}"
                raise PrepareUnavailable(self._unavailable) from exc
            self._pending.add(result)
        result.add_done_callback(self._forget)
        inner.add_done_callback(self._relay(result, url, timeout))
        result.add_done_callback(lambda f: inner.cancel() if f.cancelled() else None)
        return result

    def _started(self) -> Any:
        """pebble's pool, started with the first document the caller does not parse itself
        (with the lock held)."""
        if self._pool is None:
            from pebble import ProcessPool

            from aggregator.ingest.extract.pool import process_context

            self._pool = ProcessPool(
                max_workers=self.workers,
                initializer=_start_worker,
                initargs=(self._config, self._learned),
                context=process_context(),
            )
        return self._pool

    def _forget(self, result: Future[Prepared]) -> None:
        with self._lock:
            self._pending.discard(result)

    def _relay(
        self, result: Future[Prepared], url: str, timeout: float
    ) -> Callable[[Future[Any]], None]:
        def done(inner: Future[Any]) -> None:
            from pebble import ProcessExpired

            error: BaseException | None = None
            value: Any = None
            try:
                status, value = inner.result()
            except CancelledError:
                result.cancel()
                return
            except FutureTimeout:
                error = ParseError(url, f"parsing timed out after {timeout:.0f}s")
            except ProcessExpired as exc:
                error = ParseError(url, f"parse worker died (exit code {exc.exitcode})")
            except Exception as exc:  # a bug in the task: an "internal error", as in-process
                error = exc
            else:
                if status == "error":
                    error = ParseError(url, str(value))
                elif status == "unavailable":
                    error = PrepareUnavailable(str(value))
                    with self._lock:
                        self._unavailable = self._unavailable or str(value)
            _settle(result, value if error is None else error)

        return done

    def close(self) -> None:
        """Stop the workers. A document still waiting is interrupted: its feed stops."""
        with self._lock:
            pool, self._pool, self._closed = self._pool, None, True
            pending, self._pending = self._pending, set()
        for result in pending:
            _settle(result, Interrupted("shutting down"))
        if pool is not None:
            pool.stop()
            pool.join()


_settling = threading.Lock()


def _settle(result: Future[Prepared], outcome: Prepared | BaseException) -> None:
    """Resolve ``result`` unless it is resolved or cancelled already: the worker's answer and
    close() may race for it (one lock for all pools: settling is a few assignments)."""
    with _settling:
        if result.done() or not result.set_running_or_notify_cancel():
            return
        if isinstance(outcome, BaseException):
            result.set_exception(outcome)
        else:
            result.set_result(outcome)
