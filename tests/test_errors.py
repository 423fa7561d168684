from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.exc import OperationalError

from aggregator.errors import FetchError, StoreError
from aggregator.store.dbapi import short_error


def _raised(error: Exception, cause: BaseException) -> Exception:
    try:
        raise error from cause
    except Exception as exc:
        return exc


def test_the_cause_is_said_once_on_one_line() -> None:
    cause = ValueError("bad value\nsecond line")
    assert str(_raised(StoreError("cannot store"), cause)) == "cannot store: ValueError: bad value"


def test_a_cause_the_message_already_quotes_is_not_repeated() -> None:
    driver = sqlite3.OperationalError('connection to server at "127.0.0.1" failed')
    wrapped = OperationalError("INSERT INTO feeds ...", {}, driver)
    error = _raised(StoreError(f"database write failed ({short_error(wrapped)})"), wrapped)
    text = str(error)
    assert text.count('connection to server at "127.0.0.1" failed') == 1, text
    assert text.startswith("database write failed (OperationalError: ")


@pytest.mark.parametrize("error", [FetchError("https://a.example/rss", "timed out"), StoreError()])
def test_without_a_cause_the_message_or_the_type(error: Exception) -> None:
    assert str(error) in ("timed out", "StoreError")
