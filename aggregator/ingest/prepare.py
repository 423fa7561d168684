"""The CPU-bound half of a feed update in worker processes, for a poll of many feeds.

A poll of many feeds without full text is CPU-bound in one process: the GIL runs one feed
thread's Python at a time, and parsing the document (feedparser), the entries' feed text and
their tags are about 40 % of that CPU (py-spy, a cold poll of 200 feeds × 20 items).
:class:`PreparePool` runs that half, :func:`prepare_feed`, in worker processes while the feed
threads go on fetching, planning and writing. The pipeline takes what comes back for the new
entries of feeds without full text and does the rest as always (an edited entry is tagged on
the full text stored for it; a full-text feed's entries on their pages).

Only ``aggregator poll`` of many feeds uses it (a first poll, or polls from cron): a daemon's
tick polls a few feeds at a time, and a worker holding the topic model would cost it ~70 MiB
for the rest of its life.

It also bounds parsing: a document that keeps feedparser busy past the time limit becomes
that feed's error ("parsing timed out after 60s") and its worker is replaced; in-process it
would hold a feed thread for as long as it took.

The pool is pebble's, for the reasons given in :mod:`aggregator.ingest.extract.pool`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from aggregator.errors import ParseError
from aggregator.ingest.extract.article import text_from_feed_content
from aggregator.ingest.parse.feed import parse_feed
from aggregator.ingest.tag.rules import FeedContext, TagInput, tags_for_many
from aggregator.models import FieldLimits, ParsedEntry, ParsedFeed, TagAssignment

if TYPE_CHECKING:
    from aggregator.config.schema import Config, FeedConfig
    from aggregator.ingest.tag.rules import Tagging

__all__ = [
    "DEFAULT_TIMEOUT",
    "PreparePool",
    "Prepared",
    "entry_feed_text",
    "prepare_feed",
    "prepare_in_worker",
]

DEFAULT_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class Prepared:
    """A parsed feed and, for each of its entries in order, its feed text ``(text, html)``
    and its tags as a new entry of a feed without full text."""

    parsed: ParsedFeed
    texts: tuple[tuple[str, str], ...]
    tags: tuple[tuple[TagAssignment, ...], ...]

    def by_entry(self) -> dict[int, tuple[tuple[str, str], tuple[TagAssignment, ...]]]:
        """Text and tags by ``id()`` of the entry object (a plan holds these very objects)."""
        return {
            id(entry): (text, tags)
            for entry, text, tags in zip(self.parsed.entries, self.texts, self.tags, strict=True)
        }


def entry_feed_text(entry: ParsedEntry) -> tuple[str, str]:
    """``(plain text, sanitized HTML)`` of what the feed carries of the entry: its content, or
    its summary when that is longer."""
    html = entry.content if len(entry.content) >= len(entry.summary) else entry.summary
    return text_from_feed_content(html)


def prepare_feed(
    body: bytes,
    url: str,
    headers: Mapping[str, str] | None,
    limits: FieldLimits,
    feed: FeedConfig,
    tagging: Tagging,
) -> Prepared:
    """Parse ``body`` and tag every entry on its title and feed text, as the pipeline tags a
    new entry of a feed without full text. Raises ParseError as :func:`parse_feed` does."""
    parsed = parse_feed(body, url, headers, limits)
    texts = tuple(entry_feed_text(entry) for entry in parsed.entries)
    context = FeedContext(url=feed.url, title=feed.title or parsed.title or None, tags=feed.tags)
    tags = tags_for_many(
        [
            TagInput(title=e.title, text=text, categories=e.categories, link=e.link)
            for e, (text, _html) in zip(parsed.entries, texts, strict=True)
        ],
        context,
        tagging,
    )
    return Prepared(parsed, texts, tuple(tags))


# -- the worker side ---------------------------------------------------------------------------

# A worker process's tagging, built once by its initializer from the poll's config (a pool's
# initializer has nowhere else to put it).
_worker_tagging: Tagging | None = None


def _start_worker(config: Config, learned: tuple[str, bytes] | None) -> None:
    import logging

    from aggregator.ingest.tag.loader import open_tagger, tagging_for, with_learned

    global _worker_tagging
    # Warnings about a document are the pipeline's to log (they come back in the result).
    logging.getLogger("aggregator").setLevel(logging.ERROR)
    _worker_tagging = tagging_for(config, with_learned(config, open_tagger(config), learned))


def prepare_in_worker(
    body: bytes, url: str, headers: dict[str, str], limits: FieldLimits, feed: FeedConfig
) -> tuple[str, Any]:
    """The pool's task: ``("ok", Prepared)`` or ``("error", message)``."""
    assert _worker_tagging is not None, "the worker's initializer did not run"
    try:
        return ("ok", prepare_feed(body, url, headers, limits, feed, _worker_tagging))
    except ParseError as exc:
        # Sent as text: FeedError subclasses take extra constructor arguments and lose them
        # when pickled.
        return ("error", str(exc))


# -- the pool ----------------------------------------------------------------------------------


class PreparePool:
    """Worker processes that run :func:`prepare_feed` with the tagging of ``config`` (and the
    model ``aggregator tags learn`` stored, ``learned``), each document within ``timeout``.
    ``target`` replaces the worker's task (tests pass ones that hang or die); it must be a
    module-level function."""

    def __init__(
        self,
        config: Config,
        learned: tuple[str, bytes] | None,
        *,
        workers: int,
        timeout: float = DEFAULT_TIMEOUT,
        target: Callable[..., tuple[str, Any]] | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.workers = workers
        self.timeout = timeout
        self._config = config
        self._learned = learned
        self._limits = config.limits.fields()
        self._target = target or prepare_in_worker
        self._pool: Any = None
        self._closed = False
        self._lock = threading.Lock()

    def _started(self) -> Any:
        """pebble's pool, started with the first document: a poll whose feeds all answer
        304 never pays for the workers."""
        with self._lock:
            if self._closed:
                raise RuntimeError("PreparePool is closed")
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

    def submit(
        self, body: bytes, url: str, headers: Mapping[str, str], feed: FeedConfig
    ) -> Future[Prepared]:
        """Schedule one document; the future yields :class:`Prepared` or raises ParseError."""
        inner = self._started().schedule(
            self._target,
            args=(body, url, dict(headers), self._limits, feed),
            timeout=self.timeout,
        )
        result: Future[Prepared] = Future()
        inner.add_done_callback(self._relay(result, url))
        result.add_done_callback(lambda f: inner.cancel() if f.cancelled() else None)
        return result

    def _relay(self, result: Future[Prepared], url: str) -> Callable[[Future[Any]], None]:
        def done(inner: Future[Any]) -> None:
            try:
                status, value = inner.result()
            except CancelledError:
                result.cancel()
                return
            except FutureTimeout:
                status, value = "error", f"parsing timed out after {self.timeout:g}s"
            except Exception as exc:  # pebble.ProcessExpired, a pickling failure
                code = getattr(exc, "exitcode", None)
                detail = f" (exit code {code})" if code is not None else f": {exc}"
                status, value = "error", f"parse worker died{detail}"
            if not result.set_running_or_notify_cancel():
                return
            if status == "ok":
                result.set_result(value)
            else:
                result.set_exception(ParseError(url, str(value)))

        return done

    def close(self) -> None:
        """Stop the workers; documents still queued are dropped (their feeds stop too)."""
        with self._lock:
            pool, self._pool, self._closed = self._pool, None, True
        if pool is not None:
            pool.stop()
            pool.join()

    def __enter__(self) -> PreparePool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
