"""Wiring: builds the services a command needs from the config, and closes them.

The only place that knows which concrete fetcher, extractor and store go together; the CLI
and the tests both use it, so what the tests exercise is what users run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

from aggregator.config.schema import Config

if TYPE_CHECKING:
    from aggregator.ingest.fetch import FetchSettings
    from aggregator.ingest.pipeline import Extractor, Services

__all__ = ["fetch_settings", "open_services"]


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
) -> Iterator[Services]:
    """Open the store, the HTTP client and the extraction pool; close them all afterwards.

    An ``extractor`` passed in is used as is and left open (tests share one pool). When the
    body raises (Ctrl-C included), in-flight work is told to stop and the pool is not
    waited for.
    """
    from aggregator.ingest.extract.pool import ExtractionPool, limit_malloc_arenas
    from aggregator.ingest.fetch import HttpFetcher
    from aggregator.ingest.pipeline import PageWork, Services
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
        tagger = with_learned(config, tagger, store.load_tag_model(LEARNED_MODEL))
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
