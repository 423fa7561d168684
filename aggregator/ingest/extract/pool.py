"""Run :func:`aggregator.ingest.extract.article.extract_article` in worker processes.

Extraction is CPU-bound (lxml and trafilatura hold the GIL), so threads do not help; a page
can also make trafilatura spin for a long time, and its module-level caches grow in a
long-running process. The pool therefore needs, per task, a hard time limit that kills
the worker, and recycling of workers after N tasks.

Why pebble: ``concurrent.futures.ProcessPoolExecutor`` has ``max_tasks_per_child`` but no
per-task timeout (a hung task blocks its worker forever, and a killed worker breaks the
whole executor). ``pebble.ProcessPool`` has both, replaces dead or timed-out workers and
keeps serving; it is small, maintained and typed futures are plain
``concurrent.futures.Future`` objects.

Workers start with 'forkserver' (or 'spawn' where that is missing): the daemon has threads
(HTTP clients, the scheduler), and forking a threaded process can deadlock the child.

Every failure reaches the caller as :class:`~aggregator.errors.ExtractError` through the
returned future: "extraction timed out after 20s", "extraction worker died (exit code -9)",
or the error the extraction itself raised. ``workers=0`` runs the target synchronously in
the calling process (the CLI's one-page ``aggregator extract``); it has no time limit.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from functools import cache
from types import TracebackType
from typing import Any, Protocol

from aggregator.errors import ExtractError
from aggregator.ingest.extract.article import extract_article
from aggregator.models import ExtractedArticle

__all__ = [
    "DEFAULT_MAX_TASKS",
    "DEFAULT_TIMEOUT",
    "ExtractFn",
    "ExtractionPool",
    "limit_malloc_arenas",
    "process_context",
    "release_free_memory",
]

DEFAULT_TIMEOUT = 20.0
DEFAULT_MAX_TASKS = 200


class ExtractFn(Protocol):
    """The signature of :func:`extract_article`; must be a module-level (picklable) function."""

    def __call__(
        self,
        body: bytes,
        url: str,
        *,
        content_type: str = ...,
        feed_title: str | None = ...,
        feed_content: str = ...,
    ) -> ExtractedArticle: ...


# What a worker sends back. Exceptions are not sent as such: AggregatorError subclasses take
# extra constructor arguments and do not survive pickling with their url intact.
_Outcome = tuple[str, Any]


def _run_in_worker(target: ExtractFn, body: bytes, url: str, kwargs: dict[str, Any]) -> _Outcome:
    try:
        return ("ok", target(body, url, **kwargs))
    except ExtractError as exc:
        return ("error", str(exc))
    except Exception as exc:  # a bug or a library crash must not look like a dead worker
        return ("error", f"extraction failed: {type(exc).__name__}: {exc}")
    finally:
        # A page's parse trees are freed, but glibc keeps the pages: a worker grew from 45 to
        # 100 MiB in 50 pages and stayed there; trimmed after each page it stays near 80,
        # for no measurable time.
        release_free_memory()


@cache
def _libc() -> Any:
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name) if name else None


def release_free_memory() -> None:
    """Hand the heap's free pages back to the OS (glibc's malloc_trim; elsewhere nothing)."""
    try:
        libc = _libc()
        if libc is not None and hasattr(libc, "malloc_trim"):
            libc.malloc_trim(0)
    except OSError:
        pass


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas, before the process starts its threads. glibc gives each
    thread an arena of its own, up to eight per core, and each keeps the memory it once
    held: the feed and page threads of a full-text poll held 259 MiB, 204 MiB with two
    arenas (the same as MALLOC_ARENA_MAX=2 in the environment, which wins if set)."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return
    try:
        libc = _libc()
        if libc is not None and hasattr(libc, "mallopt"):
            libc.mallopt(_M_ARENA_MAX, arenas)
    except OSError:
        pass


_M_ARENA_MAX = -8  # glibc's malloc.h


def _warm_up() -> None:
    """Import trafilatura once per worker, outside any task's time limit.

    Workers have no logging configuration of their own, so Python's last-resort handler
    would print trafilatura's per-page WARNINGs ("discarding data") to the daemon's
    stderr; the result says what matters.
    """
    import logging

    import trafilatura  # noqa: F401

    for noisy in ("trafilatura", "htmldate", "courlan", "charset_normalizer"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)


def process_context() -> Any:
    """multiprocessing's 'forkserver' context (a threaded process forks safely from it), or
    'spawn' where there is none."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


class ExtractionPool:
    """A process pool for article extraction with a per-page time limit.

    ``workers`` defaults to ``os.cpu_count()``; ``0`` means synchronous, in-process.
    ``target`` replaces :func:`extract_article` (tests pass functions that hang or die).
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_tasks: int = DEFAULT_MAX_TASKS,
        target: ExtractFn = extract_article,
    ) -> None:
        if workers is not None and workers < 0:
            raise ValueError("workers must be >= 0")
        self.workers = (os.cpu_count() or 1) if workers is None else workers
        self.timeout = timeout
        self.max_tasks = max_tasks
        self._target = target
        self._pool: Any = None
        self._closed = False
        if self.workers > 0:
            from pebble import ProcessPool

            self._pool = ProcessPool(
                max_workers=self.workers,
                max_tasks=max_tasks,
                initializer=_warm_up,
                context=process_context(),
            )

    def submit(
        self,
        body: bytes,
        url: str,
        *,
        content_type: str = "",
        feed_title: str | None = None,
        feed_content: str = "",
    ) -> Future[ExtractedArticle]:
        """Schedule one page; the future yields the article or raises :class:`ExtractError`."""
        if self._closed:
            raise RuntimeError("ExtractionPool is closed")
        kwargs: dict[str, Any] = {
            "content_type": content_type,
            "feed_title": feed_title,
            "feed_content": feed_content,
        }
        result: Future[ExtractedArticle] = Future()
        if self._pool is None:
            result.set_running_or_notify_cancel()
            _resolve(result, url, _run_in_worker(self._target, body, url, kwargs))
            return result
        inner = self._pool.schedule(
            _run_in_worker, args=(self._target, body, url, kwargs), timeout=self.timeout
        )
        inner.add_done_callback(self._relay(result, url))
        # cancelling ours cancels the task (pebble kills its worker if it already started)
        result.add_done_callback(lambda f: inner.cancel() if f.cancelled() else None)
        return result

    def _relay(self, result: Future[ExtractedArticle], url: str) -> Callable[[Future[Any]], None]:
        def done(inner: Future[Any]) -> None:
            if result.done():
                return
            outcome: _Outcome
            try:
                outcome = inner.result()
            except CancelledError:
                result.cancel()
                return
            except FutureTimeout:
                outcome = ("error", f"extraction timed out after {self.timeout:g}s")
            except Exception as exc:  # pebble.ProcessExpired and pool failures
                code = getattr(exc, "exitcode", None)
                detail = f" (exit code {code})" if code is not None else f": {exc}"
                outcome = ("error", f"extraction worker died{detail}")
            if result.set_running_or_notify_cancel():
                _resolve(result, url, outcome)

        return done

    def close(self, *, wait: bool = True) -> None:
        """Stop accepting pages; with ``wait`` finish the queued ones, else abandon them."""
        if self._closed:
            return
        self._closed = True
        if self._pool is not None:
            if wait:
                self._pool.close()
            else:
                self._pool.stop()
            self._pool.join()

    def __enter__(self) -> ExtractionPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(wait=exc_type is None)


def _resolve(result: Future[ExtractedArticle], url: str, outcome: _Outcome) -> None:
    status, value = outcome
    if status == "ok":
        result.set_result(value)
    else:
        result.set_exception(ExtractError(url, str(value)))
