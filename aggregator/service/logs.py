"""Log output for people (logfmt-style key=value lines) and for machines (one JSON object a line).

Events carry their data as fields (``extra={"fields": {...}}``) so that both formats print the
same keys in the same order: ``feed updated status=ok feed=… new=3 updated=0 extracted=3 ms=812``.
Under systemd (``JOURNAL_STREAM`` set) lines have no timestamp: journald adds its own.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

__all__ = ["JsonFormatter", "KeyValueFormatter", "fields_of", "setup_logging"]

QUIET_LIBRARIES = (
    "trafilatura",
    "htmldate",
    "courlan",
    "charset_normalizer",
    "apscheduler",
    "alembic",
    "httpx",
    "httpcore",
)


def fields_of(record: logging.LogRecord) -> Mapping[str, Any]:
    fields = getattr(record, "fields", None)
    return fields if isinstance(fields, Mapping) else {}


def _value(value: Any) -> str:
    text = "" if value is None else str(value)
    if not text or any(c in text for c in ' "=\n\t'):
        return json.dumps(text, ensure_ascii=False)
    return text


class KeyValueFormatter(logging.Formatter):
    def __init__(self, *, timestamps: bool) -> None:
        super().__init__()
        self.timestamps = timestamps

    def format(self, record: logging.LogRecord) -> str:
        parts = []
        if self.timestamps:
            parts.append(datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        parts.append(record.levelname)
        parts.append(f"{record.name}:")
        parts.append(record.getMessage())
        parts.extend(f"{key}={_value(value)}" for key, value in fields_of(record).items())
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in fields_of(record).items():
            data.setdefault(key, value)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def setup_logging(
    level: int | str,
    fmt: str = "text",
    *,
    stream: TextIO | None = None,
    quiet_libraries: bool = True,
) -> None:
    """Configure the root logger once, for a command-line process."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(KeyValueFormatter(timestamps="JOURNAL_STREAM" not in os.environ))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    if quiet_libraries:
        # trafilatura reports every discarded block; APScheduler every job run.
        for name in QUIET_LIBRARIES:
            logging.getLogger(name).setLevel(
                logging.WARNING if name == "apscheduler" else logging.CRITICAL
            )
