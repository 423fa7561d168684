"""Wiring: builds the services a command needs from the config, and closes them.

The only place that knows which concrete fetcher, extractor and store go together; the CLI
and the tests both use it, so what the tests exercise is what users run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

from aggregator.config.schema import Config, FeedConfig

if TYPE_CHECKING:
    from aggregator.ingest.fetch import FetchSettings
    from aggregator.ingest.pipeline import Extractor, Services

__all__ = ["PREPARE_MIN_FEEDS", "fetch_settings", "open_services", "prepare_workers_for"]


def fetch_settings(config: Config) -> FetchSettings:
    from aggregator.ingest.fetch import FetchSettings

    fetch = config.fetch
    kwargs: dict[str, Any] = {
        "allow_private_networks": fetch.allow_private_networks,
        "connect_timeout": fetch.connect_timeout,
        "read_timeout": fetch.read_timeout,
        "total_timeout": fetch.timeout,
        "max_body_bytes": int(fetch.max_body_mb * 1024 * 1024),
        "max_redirects": fetch.max_redirects,
        "per_host_limit": fetch.per_host_limit,
    }
    if fetch.user_agent:
        kwargs["user_agent"] = fetch.user_agent
    if fetch.allowed_hosts:
        kwargs["allowed_hosts"] = frozenset(h.lower() for h in fetch.allowed_hosts)
    return FetchSettings(**kwargs)


@contextmanager
def open_services(
    config: Config,
    *,
    extractor: Extractor | None = None,
    environ: Mapping[str, str] | None = None,
    prepare_workers: int = 0,
) -> Iterator[Services]:
    """Open the store, the HTTP client and the extraction pool; close them all afterwards.

    An ``extractor`` passed in is used as is and left open (tests share one pool). When the
    body raises (Ctrl-C included), in-flight work is told to stop and the pool is not
    waited for. ``prepare_workers`` > 0 parses and tags feeds without full text in that many
    worker processes (:mod:`aggregator.ingest.prepare`; see :func:`prepare_workers_for`).
    """
    from aggregator.ingest.extract.pool import ExtractionPool, limit_malloc_arenas
    from aggregator.ingest.fetch import HttpFetcher
    from aggregator.ingest.pipeline import PageWork, Services
    from aggregator.ingest.prepare import PreparePool
    from aggregator.ingest.tag.learn import LEARNED_MODEL
    from aggregator.ingest.tag.loader import open_tagger, tagging_for, with_learned
    from aggregator.store.sql import SqlStore

    # Before the feed, page and HTTP threads exist (see limit_malloc_arenas).
    limit_malloc_arenas()
    # Loaded once per process (not per feed) and before anything is opened: a broken model
    # file stops the command at once.
    tagger = open_tagger(config)
    with ExitStack() as stack:
        store = SqlStore.open(config.database_url(environ), create=True)
        stack.callback(store.close)
        learned = store.load_tag_model(LEARNED_MODEL)
        tagger = with_learned(config, tagger, learned)
        prepare: PreparePool | None = None
        if prepare_workers > 0:
            prepare = PreparePool(config, learned, workers=prepare_workers)
            stack.callback(prepare.close)
        fetcher = HttpFetcher(fetch_settings(config))
        stack.callback(fetcher.close)
        pool: Extractor
        own_pool: ExtractionPool | None = None
        if extractor is None:
            own_pool = ExtractionPool(
                workers=config.extract.workers or (os.cpu_count() or 1),
                timeout=config.extract.timeout,
                max_tasks=config.extract.max_tasks_per_worker,
            )
            pool = own_pool
        else:
            pool = extractor
        # A page thread holds its page until a worker extracts it: more threads than the
        # workers can keep up with only hold more pages (64 threads held ~50 MiB of them).
        # Four per worker keep the workers fed while pages are on the wire.
        workers = pool.workers if isinstance(pool, ExtractionPool) else (os.cpu_count() or 1)
        page_pool = ThreadPoolExecutor(
            max_workers=max(
                4, min(config.fetch.concurrency * config.fetch.per_host_limit, 4 * workers)
            ),
            thread_name_prefix="page",
        )
        services = Services(
            config=config,
            store=store,
            fetcher=fetcher,
            pages=PageWork(extractor=pool, pool=page_pool),
            tagger=tagger,
            tagging=tagging_for(config, tagger),
            prepare=prepare,
        )
        aborted = False
        try:
            yield services
        except BaseException:
            aborted = True
            services.control.stop.set()
            raise
        finally:
            page_pool.shutdown(wait=True, cancel_futures=True)
            if own_pool is not None:
                own_pool.close(wait=not (aborted or services.control.stop.is_set()))


# A poll of at least this many feeds without full text may parse and tag them in worker
# processes (once PARSE_HERE_FIRST of them have brought a document to parse): with fewer,
# the workers' start-up (~0.4 s of a core each, 95 MiB) costs more than they save.
PREPARE_MIN_FEEDS = 40


def prepare_workers_for(feeds: Sequence[FeedConfig], cpus: int | None = None) -> int:
    """How many :class:`~aggregator.ingest.prepare.PreparePool` workers a poll of ``feeds``
    gets: none on one core or for few feeds without full text, else one per core but one
    (the poll's own process keeps a core busy fetching, planning and writing), at most
    :data:`~aggregator.ingest.prepare.MAX_WORKERS`."""
    from aggregator.ingest.prepare import MAX_WORKERS

    if cpus is None:
        cpus = os.cpu_count() or 1
    plain = sum(1 for feed in feeds if not feed.full_text)
    if cpus < 2 or plain < PREPARE_MIN_FEEDS:
        return 0
    return min(cpus - 1, MAX_WORKERS)
