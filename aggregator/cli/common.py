"""What every command module shares: the ``--config`` option, loading the configuration,
logging, the exit-on-error wrappers, consoles, opening the store or the reading queries,
and parsing the options several commands take (``--since``, ``--tag``, article ids).

Cheap to import, like the whole package: pydantic, SQLAlchemy and rich are imported inside
the functions that need them, so that ``aggregator --help`` and the reading commands do not
pay for them.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar
from zoneinfo import ZoneInfo

import click

from aggregator.errors import ConfigError, StoreError

if TYPE_CHECKING:
    from rich.console import Console

    from aggregator.config.file import ReadingConfig
    from aggregator.config.schema import Config
    from aggregator.store.reading_sql import Reading
    from aggregator.store.sql import SqlStore

__all__ = [
    "check_tags",
    "config_errors_exit",
    "config_option",
    "config_path",
    "echo_json",
    "errors_exit",
    "fail",
    "is_last",
    "iso",
    "load",
    "load_reading",
    "local_time",
    "make_plain_console",
    "open_reading",
    "open_store",
    "parse_article_id",
    "parse_since_option",
    "redact",
    "setup_logging",
    "tag_labels",
]

F = TypeVar("F", bound=Callable[..., Any])


def config_option(func: F) -> F:
    """``--config PATH`` on every command (it may also be given before the command)."""

    def remember(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
        if value is not None:
            ctx.ensure_object(dict)["config_path"] = value
        return value

    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        default=None,
        expose_value=False,
        is_eager=True,
        callback=remember,
        help="Config file (default: ./config.yaml, then $XDG_CONFIG_HOME/aggregator/config.yaml).",
    )(func)


def fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"aggregator: {message}", err=True)
    sys.exit(code)


def config_path(ctx: click.Context) -> str | None:
    return (ctx.find_root().obj or {}).get("config_path") or (ctx.obj or {}).get("config_path")


@contextmanager
def config_errors_exit(path: str | None) -> Iterator[None]:
    try:
        yield
    except ConfigError as exc:
        click.echo(f"aggregator: invalid configuration ({path or 'config'}):", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(2)


def load(ctx: click.Context, *, daemon: bool = False) -> Config:
    from aggregator.config.schema import load_config

    path = config_path(ctx)
    with config_errors_exit(path):
        config = load_config(path)
    setup_logging(ctx, config, daemon=daemon)
    return config


def load_reading(ctx: click.Context) -> ReadingConfig:
    """The configuration as the reading commands need it: validated in full the first time
    a config file is seen, from a small cache after that (config_file.py says why)."""
    from aggregator.config.file import load_reading_config

    def validate(chosen: Path, text: str) -> Config:
        from aggregator.config.schema import parse_config_text

        return parse_config_text(chosen, text)

    path = config_path(ctx)
    with config_errors_exit(path):
        config = load_reading_config(path, validate)
    setup_logging(ctx, None, log_format=config.log_format)
    return config


@contextmanager
def errors_exit() -> Iterator[None]:
    try:
        yield
    except ConfigError as exc:
        fail("invalid configuration: " + "; ".join(exc.problems))
    except StoreError as exc:
        fail(str(exc))


# Wide enough that a row of ``feeds`` or a line of ``status`` is never folded when piped.
PIPED_WIDTH = 1000


def make_plain_console(stderr: bool = False, *, wide_when_piped: bool = False) -> Console:
    """The console of the commands other than digest/show/search (which use
    :func:`aggregator.read.render.make_console`).

    ``wide_when_piped``: into a pipe or a file (and COLUMNS unset), lines are not folded at
    80 columns, as ``ls -l`` does: a URL cut across two lines cannot be grepped or copied."""
    import os

    from rich.console import Console

    console = Console(stderr=stderr, highlight=False, soft_wrap=False)
    if wide_when_piped and not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(stderr=stderr, highlight=False, soft_wrap=False, width=PIPED_WIDTH)
    return console


def echo_json(value: Any) -> None:
    from aggregator.text.terminal import inert_json

    click.echo(inert_json(value))


def setup_logging(
    ctx: click.Context,
    config: Config | None,
    *,
    daemon: bool = False,
    log_format: str = "text",
) -> None:
    """-v/-vv win; else the daemon logs at the config's level and other commands (whose
    output is their result) only warnings."""
    from aggregator.service.logs import setup_logging as setup

    options = ctx.find_root().obj or {}
    verbose = int(options.get("verbose", 0))
    fmt = options.get("log_format") or (config.logging.format if config else log_format)
    if verbose:
        level: int | str = logging.INFO if verbose == 1 else logging.DEBUG
    elif daemon and config is not None:
        level = config.logging.level
    else:
        level = logging.WARNING
    setup(level, fmt, quiet_libraries=verbose < 2)


def redact(url: str) -> str:
    """A database URL fit to print: without its password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparsable URL)"


def open_store(config: Config | str, *, create: bool = True) -> SqlStore:
    """The store; ``create=False`` for the commands that only look (list, status, digest...):
    they must never create a database where a path was mistyped."""
    from aggregator.store.sql import SqlStore

    url = config if isinstance(config, str) else config.database_url()
    with errors_exit():
        return SqlStore.open(url, create=create)


@contextmanager
def open_reading(config: ReadingConfig) -> Iterator[Reading]:
    """The reading queries for digest/show/search/read: straight over sqlite3 when the
    database is an up-to-date SQLite file (no SQLAlchemy import: ~0.15 s saved on every
    run), else through the store, which also creates a new database or explains an old one."""
    from aggregator.store.dbapi import open_sqlite
    from aggregator.store.reading_sql import Reading

    with errors_exit():
        sql = open_sqlite(config.database_url())
    if sql is not None:
        try:
            yield Reading(sql)
        finally:
            sql.close()
        return
    store = open_store(config.database_url(), create=False)
    try:
        with errors_exit(), store.reader() as reader:
            yield reader
    finally:
        store.close()


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def local_time(value: datetime | None, zone: ZoneInfo) -> str:
    """A time as the tables show it, in the display timezone: ``2026-11-25 07:30``."""
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else "-"


def tag_labels(config: ReadingConfig, language: str = "ko") -> dict[str, str]:
    """Each tag's label in ``language`` (the other language's, then its name, where the
    config gives none)."""
    if language == "en" and config.tag_labels_en:
        return dict(config.tag_labels_en)
    return dict(config.tag_labels)


def is_last(value: str | None) -> bool:
    return value is not None and value.strip().lower() == "last"


def parse_since_option(
    timezone: str, value: str | None, store: Reading | SqlStore, now: datetime
) -> datetime | None:
    """``--since``: None without it; ``last`` reads the time of the previous digest."""
    from aggregator.read.digest import LAST_DIGEST_STATE_KEY, parse_since

    if value is None:
        return None
    last_raw = store.get_state(LAST_DIGEST_STATE_KEY) if is_last(value) else None
    last = datetime.fromisoformat(last_raw) if last_raw else None
    try:
        since = parse_since(value, now=now, tz=ZoneInfo(timezone), last=last)
        since.astimezone(UTC)  # out-of-range instants fail here, not in the database
        return since
    except (ValueError, OverflowError) as exc:
        fail(str(exc) if "--since" in str(exc) else f"--since {value}: {exc}")


def check_tags(config: Config | ReadingConfig, tags: tuple[str, ...]) -> None:
    for tag in tags:
        if tag not in config.tags:
            fail(f"--tag {tag}: not a tag of the configuration ({', '.join(config.tags)})")


def parse_article_id(value: str) -> int:
    """An article id as the user types it (``1024`` or ``#1024``); exits on anything else."""
    try:
        number = int(value.lstrip("#"))
    except ValueError:
        number = 0
    if not 0 < number < 2**63:
        fail(f"{value!r}: not an article id (a number, as shown by digest, list or search)")
    return number
