"""The helpers every command module shares: option parsing and small formatters."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
import pytest
from click.testing import CliRunner

from aggregator.cli import cli
from aggregator.cli.common import (
    check_tags,
    is_last,
    iso,
    local_time,
    parse_article_id,
    parse_since_option,
    redact,
)
from aggregator.config.schema import parse_config
from aggregator.read.digest import LAST_DIGEST_STATE_KEY
from aggregator.store.sql import SqlStore

SEOUL = ZoneInfo("Asia/Seoul")
NOW = datetime(2026, 11, 25, 22, 30, tzinfo=UTC)


def test_parse_article_id_takes_digits_with_or_without_a_hash() -> None:
    assert parse_article_id("1024") == 1024
    assert parse_article_id("#7") == 7


@pytest.mark.parametrize("value", ["x", "0", "-3", "#", str(2**63)])
def test_parse_article_id_refuses_anything_else_with_usage_status(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_article_id(value)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == (
        f"aggregator: {value!r}: not an article id (a number, as shown by digest, list or search)\n"
    )


def test_is_last_ignores_case_and_spaces() -> None:
    assert is_last(" LAST ") and is_last("last")
    assert not is_last(None) and not is_last("24h")


def test_iso_and_local_time() -> None:
    assert iso(NOW) == "2026-11-25T22:30:00+00:00" and iso(None) is None
    assert local_time(NOW, SEOUL) == "2026-11-26 07:30"
    assert local_time(None, SEOUL) == "-"


def test_redact_hides_the_password_and_survives_garbage() -> None:
    assert redact("postgresql+psycopg://news:secret@db/news") == (
        "postgresql+psycopg://news:***@db/news"
    )
    assert redact("sqlite:///news.db") == "sqlite:///news.db"
    assert redact("not a url") == "(unparsable URL)"


def test_check_tags_names_the_configured_tags(capsys: pytest.CaptureFixture[str]) -> None:
    config = parse_config(
        {"tags": {"economy": {"keywords": ["수출"]}, "society": {"keywords": ["교통"]}}}
    )
    check_tags(config, ("economy", "society"))
    with pytest.raises(SystemExit) as exit_info:
        check_tags(config, ("economy", "sports"))
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == (
        "aggregator: --tag sports: not a tag of the configuration (economy, society)\n"
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    opened = SqlStore.open(f"sqlite:///{tmp_path}/news.db", create=True)
    try:
        yield opened
    finally:
        opened.close()


def test_parse_since_option(store: SqlStore) -> None:
    assert parse_since_option("Asia/Seoul", None, store, NOW) is None
    assert parse_since_option("Asia/Seoul", "7d", store, NOW) == NOW - timedelta(days=7)
    # A date is local midnight of the display timezone.
    assert parse_since_option("Asia/Seoul", "2026-11-25", store, NOW) == datetime(
        2026, 11, 25, tzinfo=SEOUL
    )
    # 'last' without a previous digest: the last day.
    assert parse_since_option("Asia/Seoul", "last", store, NOW) == NOW - timedelta(hours=24)
    store.set_state(LAST_DIGEST_STATE_KEY, (NOW - timedelta(hours=3)).isoformat())
    assert parse_since_option("Asia/Seoul", "Last", store, NOW) == NOW - timedelta(hours=3)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "yesterday",
            "--since 'yesterday': use a duration (24h, 7d), a date (2026-11-25) or 'last'",
        ),
        ("9999999d", "--since 9999999d: "),
    ],
)
def test_parse_since_option_exits_on_a_bad_value(
    store: SqlStore, value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_since_option("Asia/Seoul", value, store, NOW)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith(f"aggregator: {message}")


def test_every_command_is_found_in_its_module() -> None:
    import importlib

    from aggregator.cli import COMMAND_MODULES, cli

    found = {}
    for home in sorted(set(COMMAND_MODULES.values())):
        module = importlib.import_module(f"aggregator.cli.{home}")
        found.update({command.name: home for command in module.COMMANDS})
    assert found == COMMAND_MODULES
    context = click.Context(cli)
    assert all(cli.get_command(context, name) is not None for name in COMMAND_MODULES)
    assert cli.get_command(context, "no-such-command") is None


def _reading_config(tmp_path: Path, database: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"database: {database!r}\nfeeds: []\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "command", [["digest"], ["list"], ["status"], ["search", "경제"], ["show", "1"]]
)
def test_reading_commands_never_create_a_database(tmp_path: Path, command: list[str]) -> None:
    missing = tmp_path / "typo" / "nowhere.db"
    config = _reading_config(tmp_path, f"sqlite:///{missing}")
    out = CliRunner().invoke(cli, [*command, "--config", str(config)])
    assert out.exit_code == 2, out.output
    assert f"no database at {missing}" in out.output
    assert not missing.exists() and not missing.parent.exists()


def test_export_opml_without_a_database_exports_the_config_and_creates_nothing(
    tmp_path: Path,
) -> None:
    """export opml created the database (and its folders) on a mistyped path."""
    missing = tmp_path / "typo" / "nowhere.db"
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database: 'sqlite:///{missing}'\n"
        "feeds:\n  - {url: 'https://news.example/rss', title: 예시, tags: [politics]}\n",
        encoding="utf-8",
    )
    out = CliRunner().invoke(cli, ["export", "opml", "--config", str(config)])
    assert out.exit_code == 0, out.output
    assert 'xmlUrl="https://news.example/rss"' in out.output and "예시" in out.output
    assert not missing.exists() and not missing.parent.exists()


@pytest.mark.parametrize("command", [["digest"], ["list"], ["status"]])
def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path, command: list[str]) -> None:
    not_db = tmp_path / "notdb.db"
    not_db.write_bytes(b"this is not sqlite" * 100)
    config = _reading_config(tmp_path, f"sqlite:///{not_db}")
    out = CliRunner().invoke(cli, [*command, "--config", str(config)])
    assert out.exit_code == 2, out.output
    assert "not a database" in out.output and "Traceback" not in out.output


def test_an_unsupported_database_url_is_a_clear_error(tmp_path: Path) -> None:
    config = _reading_config(tmp_path, "mysql://x")
    out = CliRunner().invoke(cli, ["list", "--config", str(config)])
    assert out.exit_code == 2, out.output
    assert "unsupported database 'mysql'" in out.output
