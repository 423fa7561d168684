"""The exports inside ``aggregator run``: the HTTP server (``serve.enabled``) and the export
directory written on a schedule (``export.dir`` every ``export.every``).

The daemon owns one :class:`DaemonExports`: :meth:`~DaemonExports.start` (the server)
before it registers, :meth:`~DaemonExports.schedule` with its other jobs,
:meth:`~DaemonExports.reload` on SIGHUP, :meth:`~DaemonExports.stop` on shutdown. Both share
one :class:`Exporter`, so a feed rendered for the directory is served from the same cache,
and one store of their own: the exports read with SQL that the daemon's feed updates never
need, on connections of their own.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aggregator.config.schema import Config
from aggregator.errors import AggregatorError
from aggregator.export.service import Exporter, write_export_dir
from aggregator.store.sql import SqlStore

__all__ = ["DaemonExports"]

log = logging.getLogger(__name__)


class DaemonExports:
    def __init__(self, config: Config, store: SqlStore | None = None) -> None:
        self.config = config
        self._own_store = store is None
        if store is None:
            store = SqlStore.open(config.database_url(), create=False)
        self.exporter = Exporter(store, config)
        self.store = store
        self.server: Any = None
        # Path → ETag of what the directory holds: unchanged feeds are not even rendered.
        self._seen: dict[str, str] = {}

    @property
    def active(self) -> bool:
        return self.config.serve.enabled or self.config.export.dir is not None

    def start(self) -> None:
        """Bind and start the server when enabled (raises AggregatorError when it cannot)."""
        if self.config.serve.enabled:
            from aggregator.export.server import start_server

            try:
                self.server = start_server(self.config, self.store, exporter=self.exporter).start()
            except BaseException:
                self.stop()
                raise
            log.info("serving feeds", extra={"fields": {"url": self.server.url}})

    def schedule(self, scheduler: Any, now: datetime) -> None:
        """Add the export-directory job when ``export.dir`` is set."""
        if self.config.export.dir is not None:
            scheduler.add_job(
                self.write_dir,
                "interval",
                seconds=self.config.export.every.total_seconds(),
                next_run_time=now + timedelta(seconds=5),
                id="export",
            )

    def write_dir(self) -> None:
        directory = self.config.export.dir
        if directory is None:
            return
        started = time.monotonic()
        try:
            written = write_export_dir(self.exporter, Path(directory).expanduser(), self._seen)
        except AggregatorError as exc:
            log.error("export directory not written: %s", exc)
            return
        if written:
            log.info(
                "exports written",
                extra={
                    "fields": {
                        "dir": directory,
                        "files": len(written),
                        "ms": int((time.monotonic() - started) * 1000),
                    }
                },
            )

    def reload(self, config: Config) -> None:
        if (config.serve, config.export.dir, config.export.every) != (
            self.config.serve,
            self.config.export.dir,
            self.config.export.every,
        ):
            log.warning("config reload: serve.* and export.dir/every take effect after a restart")
        self.config = config.model_copy(
            update={
                "serve": self.config.serve,
                "export": config.export.model_copy(
                    update={"dir": self.config.export.dir, "every": self.config.export.every}
                ),
            }
        )
        self.exporter.reload(self.config)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self._own_store:
            self.store.close()
