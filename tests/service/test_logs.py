from __future__ import annotations

import io
import json
import logging

import pytest

from aggregator.service.logs import setup_logging


def emit(fmt: str) -> str:
    stream = io.StringIO()
    setup_logging("INFO", fmt, stream=stream)
    logging.getLogger("aggregator.ingest.pipeline").info(
        "feed updated",
        extra={
            "fields": {
                "feed": "https://www.yna.co.kr/rss/news.xml",
                "status": "error",
                "new": 0,
                "updated": 0,
                "extracted": 0,
                "ms": 12,
                "error": 'HTTP 503 "busy"',
            }
        },
    )
    return stream.getvalue()


def test_key_value_lines_have_fixed_keys_in_order() -> None:
    line = emit("text").strip()
    assert line.endswith(
        "feed updated feed=https://www.yna.co.kr/rss/news.xml status=error new=0 updated=0 "
        'extracted=0 ms=12 error="HTTP 503 \\"busy\\""'
    )


def test_json_lines() -> None:
    data = json.loads(emit("json"))
    assert data["message"] == "feed updated" and data["level"] == "info"
    assert (data["feed"], data["status"], data["ms"]) == (
        "https://www.yna.co.kr/rss/news.xml",
        "error",
        12,
    )


def test_no_timestamps_under_journald(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOURNAL_STREAM", "8:1234")
    assert emit("text").startswith("INFO aggregator.ingest.pipeline: feed updated")


def test_timestamps_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    assert emit("text")[:4].isdigit()
