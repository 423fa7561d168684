"""The ``aggregator`` command line: wiring and exit codes only.

Exit status: 0 all fine; 1 some work failed (e.g. some feeds failed to update); 2 usage,
configuration or database-schema error (nothing was started).
"""

from __future__ import annotations

import atexit
import gc
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn, TypeVar
from zoneinfo import ZoneInfo

import click

from aggregator import __version__
from aggregator.errors import AggregatorError, ConfigError, StoreError
from aggregator.text.terminal import clean, clean_line

if TYPE_CHECKING:
    # Imported lazily below: pydantic, SQLAlchemy and the pipeline cost ~0.1 s to import,
    # which `aggregator --help` and the reading commands should not pay for nothing.
    from aggregator.config.file import ReadingConfig
    from aggregator.config.schema import Config
    from aggregator.store.reading_sql import Reading
    from aggregator.store.sql import SqlStore

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("aggregator")


def _config_option(func: F) -> F:
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


def _fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"aggregator: {message}", err=True)
    sys.exit(code)


def _config_path(ctx: click.Context) -> str | None:
    return (ctx.find_root().obj or {}).get("config_path") or (ctx.obj or {}).get("config_path")


@contextmanager
def _config_errors_exit(path: str | None) -> Iterator[None]:
    try:
        yield
    except ConfigError as exc:
        click.echo(f"aggregator: invalid configuration ({path or 'config'}):", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(2)


def _load(ctx: click.Context, *, daemon: bool = False) -> Config:
    from aggregator.config.schema import load_config

    path = _config_path(ctx)
    with _config_errors_exit(path):
        config = load_config(path)
    _setup_logging(ctx, config, daemon=daemon)
    return config


def _load_reading(ctx: click.Context) -> ReadingConfig:
    """The configuration as the reading commands need it: validated in full the first time
    a config file is seen, from a small cache after that (config_file.py says why)."""
    from aggregator.config.file import load_reading_config

    def validate(chosen: Path, text: str) -> Config:
        from aggregator.config.schema import parse_config_text

        return parse_config_text(chosen, text)

    path = _config_path(ctx)
    with _config_errors_exit(path):
        config = load_reading_config(path, validate)
    _setup_logging(ctx, None, log_format=config.log_format)
    return config


@contextmanager
def _errors_exit() -> Iterator[None]:
    try:
        yield
    except ConfigError as exc:
        _fail("invalid configuration: " + "; ".join(exc.problems))
    except StoreError as exc:
        _fail(str(exc))


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def _setup_logging(
    ctx: click.Context,
    config: Config | None,
    *,
    daemon: bool = False,
    log_format: str = "text",
) -> None:
    """-v/-vv win; else the daemon logs at the config's level and other commands (whose
    output is their result) only warnings."""
    from aggregator.service.logs import setup_logging

    options = ctx.find_root().obj or {}
    verbose = int(options.get("verbose", 0))
    fmt = options.get("log_format") or (config.logging.format if config else log_format)
    if verbose:
        level: int | str = logging.INFO if verbose == 1 else logging.DEBUG
    elif daemon and config is not None:
        level = config.logging.level
    else:
        level = logging.WARNING
    setup_logging(level, fmt, quiet_libraries=verbose < 2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="aggregator")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default=None,
    help="Log lines as key=value text or JSON (default: logging.format in the config).",
)
@_config_option
@click.pass_context
def cli(ctx: click.Context, verbose: int, log_format: str | None) -> None:
    """aggregator: follows Korean news feeds, keeps clean full text, tags it.

    Data flow: config → fetch → parse → extract → tag → store → list/digest.
    """
    obj = ctx.ensure_object(dict)
    obj["verbose"] = verbose
    obj["log_format"] = log_format


# -- check-config ------------------------------------------------------------------------------


@cli.command("check-config")
@_config_option
@click.pass_context
def check_config(ctx: click.Context) -> None:
    """Validate the configuration and say what it holds.

    Example: aggregator check-config --config ./config.yaml
    """
    config = _load(ctx)
    from sqlalchemy.engine import make_url

    url = config.database_url()
    try:
        make_url(url)
    except Exception:
        where = (
            "AGGREGATOR_DATABASE_URL" if os.environ.get("AGGREGATOR_DATABASE_URL") else "database"
        )
        _fail(f"invalid configuration: {where}: not a SQLAlchemy database URL")
    click.echo(
        f"config OK: {config.source}: {len(config.feeds)} feeds "
        f"({sum(f.enabled for f in config.feeds)} enabled), {len(config.tags)} tags, "
        f"database {_redact(config.database_url())}"
    )


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparsable URL)"


# -- db ------------------------------------------------------------------------------------


@cli.group("db")
def db_group() -> None:
    """Database schema management."""


@db_group.command("upgrade")
@_config_option
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Create or upgrade the database schema to this version's (back up first).

    Example: aggregator db upgrade
    """
    from aggregator.store.engine import make_engine, upgrade_schema

    config = _load(ctx)
    url = config.database_url()
    with _errors_exit():
        engine = make_engine(url)
        try:
            before, after = upgrade_schema(engine)
        finally:
            engine.dispose()
    if before == after:
        click.echo(f"database {_redact(url)} is up to date (revision {after})")
    else:
        click.echo(f"database {_redact(url)} upgraded from {before or 'empty'} to {after}")


# -- poll --------------------------------------------------------------------------------------


def _status_style(status: str) -> str:
    return {"ok": "green", "not_modified": "cyan", "error": "red"}.get(status, "")


@cli.command("poll")
@click.option(
    "--feed", "feed_urls", multiple=True, metavar="URL", help="Only this feed (repeatable)."
)
@_config_option
@click.pass_context
def poll(ctx: click.Context, feed_urls: tuple[str, ...]) -> None:
    """Update every enabled feed once (or only --feed URL) and store new articles.

    Example: aggregator poll --feed https://www.yna.co.kr/rss/news.xml
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.text import Text

    from aggregator.ingest.pipeline import poll_feeds

    gc.enable()
    config = _load(ctx)
    if feed_urls:
        feeds = []
        for url in feed_urls:
            feed = config.feed(url)
            if feed is None:
                _fail(f"--feed {url}: not in the configuration ({config.source})")
            assert feed is not None
            feeds.append(feed)
    else:
        feeds = [f for f in config.feeds if f.enabled]
    if not feeds:
        _fail("no feeds to poll: add some under `feeds:` in the config")

    out = _console()
    err = _console(stderr=True)
    failed = 0
    totals = {"new": 0, "updated": 0, "extracted": 0}
    from aggregator.service.runtime import open_services

    interrupted = False
    with _errors_exit(), open_services(config) as services:
        progress = Progress(
            TextColumn("polling"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        )
        with progress:
            task = progress.add_task("poll", total=len(feeds))

            def report(result: Any) -> None:
                nonlocal failed
                failed += result.status == "error"
                for key in totals:
                    totals[key] += getattr(result, key)
                line = Text()
                line.append(f"{result.status:<12}", style=_status_style(result.status))
                line.append(
                    f" new={result.new:<3} updated={result.updated:<3} "
                    f"linked={result.linked:<3} extracted={result.extracted:<3} "
                    f"{result.ms / 1000:6.1f}s  "
                )
                line.append(clean_line(result.feed_url))
                if result.error:
                    line.append("\n             " + clean_line(result.error, 300), style="red")
                out.print(line, soft_wrap=True)
                progress.advance(task)

            try:
                poll_feeds(feeds, services, on_result=report)
            except KeyboardInterrupt:
                err.print(
                    Text(
                        "interrupted: stopping; feeds being written finish, the rest are "
                        "left for the next poll"
                    )
                )
                interrupted = True
    if interrupted:
        sys.exit(130)
    out.print(
        Text(
            f"{len(feeds)} feeds: {len(feeds) - failed} ok, {failed} failed; "
            f"{totals['new']} new articles, {totals['updated']} updated, "
            f"{totals['extracted']} extracted"
        )
    )
    sys.exit(1 if failed else 0)


# -- feeds -------------------------------------------------------------------------------------


def _open_store(config: Config | str) -> Any:
    from aggregator.store.sql import SqlStore

    url = config if isinstance(config, str) else config.database_url()
    with _errors_exit():
        return SqlStore.open(url, create=True)


@contextmanager
def _reading(config: ReadingConfig) -> Iterator[Reading]:
    """The reading queries for digest/show/search/read: straight over sqlite3 when the
    database is an up-to-date SQLite file (no SQLAlchemy import: ~0.15 s saved on every
    run), else through the store, which also creates a new database or explains an old one."""
    from aggregator.store.dbapi import open_sqlite
    from aggregator.store.reading_sql import Reading

    with _errors_exit():
        sql = open_sqlite(config.database_url())
    if sql is not None:
        try:
            yield Reading(sql)
        finally:
            sql.close()
        return
    store = _open_store(config.database_url())
    try:
        with _errors_exit(), store.reader() as reading:
            yield reading
    finally:
        store.close()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _local(value: datetime | None, zone: ZoneInfo) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else "-"


@cli.command("feeds")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_config_option
@click.pass_context
def feeds_cmd(ctx: click.Context, as_json: bool) -> None:
    """Each feed's health: last check, status, entries, last error.

    Example: aggregator feeds --json
    """
    from rich.table import Table
    from rich.text import Text

    config = _load(ctx)
    store = _open_store(config)
    try:
        store.sync_feeds([(f.url, f.title) for f in config.feeds], datetime.now(UTC))
        health = {h.url: h for h in store.feed_health()}
    finally:
        store.close()
    configured = [f.url for f in config.feeds]
    rows = [health[u] for u in configured if u in health]
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "url": h.url,
                        "title": h.title,
                        "enabled": (config.feed(h.url) or config.feeds[0]).enabled,
                        "last_checked": _iso(h.last_checked_at),
                        "last_success": _iso(h.last_success_at),
                        "status": h.last_status,
                        "http_status": h.last_http_status,
                        "error_count": h.error_count,
                        "last_error": h.last_error,
                        "entries": h.entries,
                        "last_new": h.last_new,
                        "last_duration_ms": h.last_duration_ms,
                    }
                    for h in rows
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    zone = ZoneInfo(config.display.timezone)
    table = Table(pad_edge=False, box=None, show_edge=False)
    table.add_column("status", no_wrap=True)
    table.add_column("last check", no_wrap=True)
    table.add_column("entries", justify="right")
    table.add_column("errors", justify="right")
    table.add_column("feed", overflow="fold", ratio=1)
    for h in rows:
        status = h.last_status or "never"
        feed = Text(clean_line(h.title or "", 60), style="bold")
        feed.append("\n" + clean_line(h.url), style="dim")
        if h.last_error:
            feed.append("\n" + clean_line(h.last_error, 160), style="red")
        table.add_row(
            Text(status, style=_status_style(status)),
            Text(_local(h.last_checked_at, zone)),
            Text(str(h.entries)),
            Text(str(h.error_count)),
            feed,
        )
    _console().print(table)


# -- list --------------------------------------------------------------------------------------


@cli.command("list")
@click.option("--feed", "feed_url", metavar="URL", help="Only articles of this feed.")
@click.option("--tag", metavar="TAG", help="Only articles with this tag.")
@click.option("--limit", default=30, show_default=True, type=click.IntRange(1, 100000))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_config_option
@click.pass_context
def list_cmd(
    ctx: click.Context, feed_url: str | None, tag: str | None, limit: int, as_json: bool
) -> None:
    """Stored articles, newest first.

    Example: aggregator list --tag politics --limit 10
    """
    from rich.table import Table
    from rich.text import Text

    config = _load(ctx)
    store = _open_store(config)
    try:
        articles = store.list_articles(feed_url=feed_url, tag=tag, limit=limit)
    finally:
        store.close()
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "id": a.id,
                        "feed": a.feed_url,
                        "feed_title": a.feed_title,
                        "url": a.url,
                        "title": a.title,
                        "author": a.author,
                        "published": _iso(a.published_at),
                        "first_seen": _iso(a.first_seen_at),
                        "tags": list(a.tags),
                        "text": a.text,
                        "text_source": a.text_source,
                        "extract_status": a.extract_status,
                        "extract_error": a.extract_error,
                    }
                    for a in articles
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    console = _console()
    if not articles:
        console.print(Text("no articles yet: run `aggregator poll`"))
        return
    zone = ZoneInfo(config.display.timezone)
    table = Table(pad_edge=False, box=None, show_edge=False)
    table.add_column("id", justify="right", no_wrap=True)
    table.add_column("published", no_wrap=True)
    table.add_column("feed", overflow="ellipsis", no_wrap=True, max_width=14)
    table.add_column("title", overflow="fold", ratio=1)
    table.add_column("tags", overflow="fold", max_width=16)
    table.add_column("text", justify="right", no_wrap=True)
    table.add_column("source", no_wrap=True)
    for a in articles:
        table.add_row(
            Text(str(a.id)),
            Text(_local(a.published_at or a.first_seen_at, zone)),
            Text(clean_line(a.feed_title or a.feed_url, 40)),
            Text(clean_line(a.title, 200)),
            Text(", ".join(clean_line(t) for t in a.tags)),
            Text(f"{len(a.text):,}"),
            Text(a.text_source),
        )
    console.print(table)


# -- extract -----------------------------------------------------------------------------------


@cli.command("extract")
@click.argument("target")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_config_option
@click.pass_context
def extract_cmd(ctx: click.Context, target: str, as_json: bool) -> None:
    """Extract the full text of one page (a URL or a saved HTML file), to see what we get.

    Example: aggregator extract https://www.yna.co.kr/view/AKR20250101000100001 --json
    """
    from rich.text import Text

    from aggregator.ingest.extract.article import extract_article
    from aggregator.ingest.fetch import HttpFetcher
    from aggregator.text.urls import is_http_url

    path = Path(target)
    content_type = ""
    if is_http_url(target):
        config = _load(ctx)
        from aggregator.service.runtime import fetch_settings

        with HttpFetcher(fetch_settings(config)) as fetcher:
            try:
                page = fetcher.fetch(target)
            except AggregatorError as exc:
                _fail(str(exc), 1)
        body, url, content_type = page.content, page.final_url, page.content_type
    elif path.is_file():
        body, url = path.read_bytes(), path.resolve().as_uri()
    else:
        _fail(f"{target}: neither an http(s) URL nor a readable file")
    try:
        article = extract_article(body, url, content_type=content_type)
    except AggregatorError as exc:
        _fail(str(exc), 1)
    if not article.text:
        if as_json:
            click.echo(json.dumps({"url": url, "source": article.source, "text": ""}))
        _fail(f"{target}: no article text found", 1)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "url": url,
                    "title": article.title,
                    "author": article.author,
                    "date": _iso(article.date),
                    "language": article.language,
                    "image": article.image,
                    "source": article.source,
                    "text": article.text,
                    "html": article.html,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    console = _console()
    console.print(Text(clean_line(article.title or "(no title)"), style="bold"))
    meta = [article.author, _iso(article.date), f"source: {article.source}"]
    console.print(Text(clean_line(" · ".join(m for m in meta if m)), style="dim"))
    console.print()
    # On a terminal rich wraps at word boundaries; piped text keeps its own lines.
    console.print(Text(clean(article.text)), soft_wrap=not console.is_terminal)


# -- run / status / prune / star -----------------------------------------------------------


@cli.command("run")
@_config_option
@click.pass_context
def run_cmd(ctx: click.Context) -> None:
    """Run the service: poll every feed on its own schedule until stopped.

    SIGHUP reloads the config; SIGTERM or Ctrl-C stops after in-flight feeds finish
    (schedule.shutdown_grace). Several instances can share a PostgreSQL database.

    Example: aggregator --config /etc/aggregator/config.yaml run
    """
    from aggregator.service.daemon import Daemon

    gc.enable()
    config = _load(ctx, daemon=True)
    path = (ctx.find_root().obj or {}).get("config_path") or config.source
    try:
        code = Daemon(config, config_path=path).run()
    except AggregatorError as exc:
        _fail(str(exc))
    sys.exit(code)


def _age(value: datetime | None, now: datetime) -> str:
    if value is None:
        return "never"
    seconds = int((now - value).total_seconds())
    if seconds < 0:
        return f"in {_duration(-seconds)}"
    return f"{_duration(seconds)} ago"


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    return f"{seconds // 86400}d"


@cli.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_config_option
@click.pass_context
def status_cmd(ctx: click.Context, as_json: bool) -> None:
    """Is a daemon alive, when did it last cycle, what is due, what is failing.

    Example: aggregator status --json
    """
    from rich.text import Text

    from aggregator.store.records import ALIVE_SECONDS

    config = _load(ctx)
    store = _open_store(config)
    now = datetime.now(UTC)
    try:
        instances = store.instances(since=now - timedelta(days=1))
        due = store.due_count(now)
        failing = store.failing_feeds()
        counts = store.counts()
        size = store.database_size()
    finally:
        store.close()
    alive = [
        i
        for i in instances
        if i.stopped_at is None and (now - i.heartbeat_at).total_seconds() <= ALIVE_SECONDS
    ]
    last_cycle = max((i.last_cycle_at for i in instances if i.last_cycle_at), default=None)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "daemon_alive": bool(alive),
                    "instances": [
                        {
                            "id": i.id,
                            "hostname": i.hostname,
                            "pid": i.pid,
                            "version": i.version,
                            "alive": i in alive,
                            "started": _iso(i.started_at),
                            "heartbeat": _iso(i.heartbeat_at),
                            "last_cycle": _iso(i.last_cycle_at),
                            "stopped": _iso(i.stopped_at),
                        }
                        for i in instances
                    ],
                    "last_cycle": _iso(last_cycle),
                    "feeds_due": due,
                    "failing_feeds": [
                        {
                            "url": f.url,
                            "title": f.title,
                            "error_count": f.error_count,
                            "last_error": f.last_error,
                            "last_checked": _iso(f.last_checked_at),
                            "next_retry": _iso(f.next_check_at),
                            "gone": f.gone,
                        }
                        for f in failing
                    ],
                    "counts": counts,
                    "database_bytes": size,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    console = _console()
    if alive:
        for i in alive:
            console.print(
                Text(
                    f"daemon alive: {i.hostname} pid {i.pid} (v{i.version}), "
                    f"heartbeat {_age(i.heartbeat_at, now)}, "
                    f"last cycle {_age(i.last_cycle_at, now)}",
                    style="green",
                )
            )
    else:
        console.print(Text("no daemon alive (start one with `aggregator run`)", style="yellow"))
    console.print(
        Text(
            f"feeds: {counts['feeds']} known, {due} due now, {len(failing)} failing; "
            f"articles: {counts['articles']:,}; database: "
            + (f"{size / 1_048_576:.1f} MiB" if size is not None else "size unknown")
        )
    )
    for f in failing[:20]:
        line = Text(f"  {'gone' if f.gone else 'failing'} ×{f.error_count} ", style="red")
        line.append(clean_line(f.title or f.url, 50))
        line.append(f"  next retry {_age(f.next_check_at, now)}", style="dim")
        if f.last_error:
            line.append("\n      " + clean_line(f.last_error, 150), style="dim")
        console.print(line)
    if len(failing) > 20:
        console.print(Text(f"  … and {len(failing) - 20} more (see `aggregator feeds`)"))


@cli.command("prune")
@click.option("--dry-run", is_flag=True, help="Say what would be pruned; change nothing.")
@_config_option
@click.pass_context
def prune_cmd(ctx: click.Context, dry_run: bool) -> None:
    """Delete articles older than their retention period (retention.keep_days).

    Starred articles stay. Pruned entries leave tombstones so that feeds still carrying
    them do not bring them back. The daemon does this daily.

    Example: aggregator prune --dry-run
    """
    from aggregator.service.upkeep import prune

    config = _load(ctx)
    store = _open_store(config)
    try:
        with _errors_exit():
            report = prune(store, config, datetime.now(UTC), dry_run=dry_run)
    finally:
        store.close()
    verb = "would prune" if dry_run else "pruned"
    click.echo(f"{verb} {report.pruned} articles")
    for url, count in sorted(report.by_feed.items(), key=lambda kv: -kv[1]):
        click.echo(f"  {count:>6}  {clean_line(url)}")


@cli.command("star")
@click.argument("ids", nargs=-1, required=True, type=int)
@click.option("--undo", is_flag=True, help="Unstar instead.")
@_config_option
@click.pass_context
def star_cmd(ctx: click.Context, ids: tuple[int, ...], undo: bool) -> None:
    """Keep articles forever (retention never prunes starred articles).

    Example: aggregator star 1024 1031
    """
    config = _load(ctx)
    store = _open_store(config)
    try:
        with _errors_exit():
            changed = store.set_starred(list(ids), not undo)
    finally:
        store.close()
    click.echo(f"{'unstarred' if undo else 'starred'} {changed} of {len(ids)} articles")
    if changed < len(ids):
        sys.exit(1)


@cli.group("stories")
def stories_group() -> None:
    """Story clusters: the same event covered by several outlets."""


@stories_group.command("rebuild")
@click.option(
    "--since",
    "since_value",
    metavar="WHEN",
    help="Only articles published since then (24h, 7d, a date); default: all.",
)
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 10000))
@_config_option
@click.pass_context
def stories_rebuild(ctx: click.Context, since_value: str | None, batch: int) -> None:
    """Cluster stored articles into stories again (after an upgrade or new thresholds).

    Forgets the stories of the articles in the period, then assigns them in time batches
    with the configured thresholds (config `stories`). Safe to interrupt and run again.

    Example: aggregator stories rebuild --since 7d
    """
    from rich.progress import Progress

    from aggregator.service.upkeep import rebuild_stories

    config = _load(ctx)
    store = _open_store(config)
    now = datetime.now(UTC)
    try:
        with _errors_exit():
            since = _since(config.display.timezone, since_value, store, now)
            with Progress(transient=True) as bar:
                task = bar.add_task("clustering", total=None)
                report = rebuild_stories(
                    store,
                    config.stories,
                    since=since,
                    batch=batch,
                    on_batch=lambda done, total: bar.update(task, completed=done, total=total),
                )
    finally:
        store.close()
    stories = "story" if report.stories == 1 else "stories"
    click.echo(
        f"clustered {report.articles} articles into {report.stories} {stories} "
        f"({report.skipped} too short to cluster)"
    )


# -- reading: digest / show / read / unread / search ----------------------------------------


def _tag_labels(config: ReadingConfig) -> dict[str, str]:
    return dict(config.tag_labels)


def _is_last(value: str | None) -> bool:
    return value is not None and value.strip().lower() == "last"


def _since(
    timezone: str, value: str | None, store: Reading | SqlStore, now: datetime
) -> datetime | None:
    from aggregator.read.digest import LAST_DIGEST_STATE_KEY, parse_since

    if value is None:
        return None
    last_raw = store.get_state(LAST_DIGEST_STATE_KEY) if _is_last(value) else None
    last = datetime.fromisoformat(last_raw) if last_raw else None
    try:
        since = parse_since(value, now=now, tz=ZoneInfo(timezone), last=last)
        since.astimezone(UTC)  # out-of-range instants fail here, not in the database
        return since
    except (ValueError, OverflowError) as exc:
        _fail(str(exc) if "--since" in str(exc) else f"--since {value}: {exc}")


@cli.command("digest")
@click.option(
    "--since",
    "since_value",
    default="24h",
    show_default=True,
    help="24h, 7d, a date (2026-11-25), or 'last' (since the previous digest).",
)
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Only these tags (repeatable).")
@click.option(
    "--feed", "feeds", multiple=True, metavar="URL", help="Only these feeds (repeatable)."
)
@click.option(
    "--limit", default=10, show_default=True, type=click.IntRange(1, 1000), help="Stories per tag."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
)
@_config_option
@click.pass_context
def digest_cmd(
    ctx: click.Context,
    since_value: str,
    tags: tuple[str, ...],
    feeds: tuple[str, ...],
    limit: int,
    fmt: str,
) -> None:
    """The morning digest: stories since a time, grouped by tag, with a lead each.

    Example: aggregator digest --since last --tag politics --format markdown
    """
    from aggregator.read.digest import LAST_DIGEST_STATE_KEY, build_digest
    from aggregator.read.render import make_console, render_json, render_markdown, render_text

    config = _load_reading(ctx)
    _check_tags(config, tags)
    feed_urls = []
    for url in feeds:
        feed = config.feed(url)
        if feed is None:
            _fail(f"--feed {url}: not in the configuration ({config.source})")
        feed_urls.append(feed)
    now = datetime.now(UTC)
    with _reading(config) as store, _errors_exit():
        since = _since(config.timezone, since_value, store, now)
        assert since is not None
        row_limit = 5000
        rows = store.digest_rows(
            since,
            tags=tags,
            feeds=feed_urls,
            limit=row_limit,
            by_first_seen=_is_last(since_value),
            with_text=False,
        )
        # A long period has more articles than the digest loads: count them in SQL.
        counts = (
            store.digest_counts(
                since,
                tag_order=list(config.tags),
                tags=tags,
                feeds=feed_urls,
                by_first_seen=_is_last(since_value),
            )
            if len(rows) >= row_limit
            else None
        )
        build = partial(
            build_digest,
            now=now,
            tz=ZoneInfo(config.timezone),
            tag_order=list(config.tags),
            tag_labels=_tag_labels(config),
            since=since,
            limit_per_tag=limit,
            counts=counts,
            stories=store.story_info([row.id for row in rows]),
        )
        # Built twice: first to learn which stories make it in, then with the openings of
        # just their texts loaded for the leads (a day has thousands of articles).
        shown = [story.id for section in build(rows).sections for story in section.stories]
        digest = build(store.with_text(rows, shown))
        if fmt == "json":
            click.echo(render_json(digest))
        elif fmt == "markdown":
            click.echo(render_markdown(digest))
        else:
            render_text(digest, make_console())
        # A narrowed digest (one tag, one feed) is not "the" digest: it leaves "last" be.
        if not tags and not feeds:
            store.set_state(LAST_DIGEST_STATE_KEY, now.isoformat())


def _check_tags(config: Config | ReadingConfig, tags: tuple[str, ...]) -> None:
    for tag in tags:
        if tag not in config.tags:
            _fail(f"--tag {tag}: not a tag of the configuration ({', '.join(config.tags)})")


def _article_id(value: str) -> int:
    try:
        number = int(value.lstrip("#"))
    except ValueError:
        number = 0
    if not 0 < number < 2**63:
        _fail(f"{value!r}: not an article id (a number, as shown by digest, list or search)")
    return number


@cli.command("show")
@click.argument("article_id")
@click.option("--open", "open_link", is_flag=True, help="Open the article's link in a browser.")
@click.option("--no-pager", is_flag=True, help="Print instead of paging on a terminal.")
@_config_option
@click.pass_context
def show_cmd(ctx: click.Context, article_id: str, open_link: bool, no_pager: bool) -> None:
    """One article in full: outlet, author, time, tags, link and the text (marks it read).

    Example: aggregator show 1024
    """
    from aggregator.read.render import make_console, render_article

    config = _load_reading(ctx)
    ident = _article_id(article_id)
    with _reading(config) as store, _errors_exit():
        view = store.article(ident)
        if view is None:
            _fail(f"no article #{ident}", 1)
        story = store.story_members(ident)
        store.mark_read([ident], True)
    if open_link:
        import webbrowser

        from aggregator.text.urls import is_http_url

        # Feed links are untrusted: only http(s) goes to the browser, never a shell.
        if view.url and is_http_url(view.url):
            webbrowser.open(view.url)
        else:
            _fail(f"article #{ident} has no http(s) link to open", 1)
        return
    console = make_console()
    tz = ZoneInfo(config.timezone)
    if console.is_terminal and not no_pager:
        # Plain `less` shows colour codes as text; -R passes them, -F/-X quit on short text.
        os.environ.setdefault("LESS", "-FRX")
        with console.pager(styles=True):
            render_article(view, console, tz=tz, tag_labels=_tag_labels(config), story=story)
    else:
        render_article(view, console, tz=tz, tag_labels=_tag_labels(config), story=story)


def _mark(ctx: click.Context, ids: tuple[str, ...], read: bool) -> None:
    config = _load_reading(ctx)
    numbers = list(dict.fromkeys(_article_id(i) for i in ids))
    with _reading(config) as store, _errors_exit():
        changed = store.mark_read(numbers, read)
    click.echo(f"marked {changed} of {len(numbers)} articles {'read' if read else 'unread'}")
    if changed < len(numbers):
        sys.exit(1)


@cli.command("read")
@click.argument("ids", nargs=-1, required=True)
@_config_option
@click.pass_context
def read_cmd(ctx: click.Context, ids: tuple[str, ...]) -> None:
    """Mark articles read (the digest shows read stories dimmed).

    Example: aggregator read 1024 1025
    """
    _mark(ctx, ids, True)


@cli.command("unread")
@click.argument("ids", nargs=-1, required=True)
@_config_option
@click.pass_context
def unread_cmd(ctx: click.Context, ids: tuple[str, ...]) -> None:
    """Mark articles unread.

    Example: aggregator unread 1024
    """
    _mark(ctx, ids, False)


@cli.command("search")
@click.argument("query", nargs=-1, required=True)
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Only these tags (repeatable).")
@click.option("--since", "since_value", default=None, help="24h, 7d, a date, or 'last'.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@_config_option
@click.pass_context
def search_cmd(
    ctx: click.Context,
    query: tuple[str, ...],
    tags: tuple[str, ...],
    since_value: str | None,
    limit: int,
    fmt: str,
) -> None:
    """Find articles; Korean words of one or two syllables match inside longer words.

    Example: aggregator search 정책 --since 7d
    """
    from rich.console import Group
    from rich.padding import Padding
    from rich.text import Text

    from aggregator.read.render import make_console, print_trimmed

    config = _load_reading(ctx)
    _check_tags(config, tags)
    text_query = " ".join(query)
    now = datetime.now(UTC)
    with _reading(config) as store, _errors_exit():
        since = _since(config.timezone, since_value, store, now)
        hits = store.search(text_query, tags=tags, since=since, limit=limit)
    if fmt == "json":
        click.echo(
            json.dumps(
                [
                    {
                        "id": h.article_id,
                        "title": clean_line(h.title),
                        "url": clean_line(h.url) if h.url else None,
                        "feed": clean_line(h.feed_title) if h.feed_title else None,
                        "published": _iso(h.published_at),
                        "score": h.score,
                        "snippet": h.snippet,
                        "matched": list(h.matched_terms),
                    }
                    for h in hits
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    console = make_console()
    zone = ZoneInfo(config.timezone)
    if not hits:
        console.print(Text(f"no articles match {clean_line(text_query)!r}"))
        sys.exit(1)
    for hit in hits:
        terms = [clean_line(t) for t in hit.matched_terms if clean_line(t)]
        head = Text(f"#{hit.article_id:<7} ", style="dim")
        title = Text(clean_line(hit.title), style="bold")
        title.highlight_words(terms, style="reverse", case_sensitive=False)
        head.append_text(title)
        console.print(head)
        meta = Text(
            f"{clean_line(hit.feed_title or '', 40)} · {_local(hit.published_at, zone)}",
            style="dim",
        )
        snippet = Text(clean_line(hit.snippet))
        snippet.highlight_words(terms, style="reverse", case_sensitive=False)
        # Padding keeps wrapped snippet lines under the title, not at the left margin.
        print_trimmed(console, Padding(Group(meta, snippet), (0, 0, 1, 9)))


# -- export / import / serve -----------------------------------------------------------------


def _emit(body: bytes, output: str | None) -> None:
    if output is None or output == "-":
        sys.stdout.buffer.write(body)
        sys.stdout.buffer.flush()
        return
    from aggregator.export.service import write_file

    try:
        write_file(Path(output), body)
    except AggregatorError as exc:
        _fail(str(exc), 1)


@cli.group("export")
def export_group() -> None:
    """Export the feed list (OPML) or generated full-text feeds (Atom, RSS, JSON Feed)."""


_output_option = click.option(
    "-o", "--output", metavar="FILE", help="Write to FILE (atomically) instead of stdout."
)


@export_group.command("opml")
@_output_option
@_config_option
@click.pass_context
def export_opml(ctx: click.Context, output: str | None) -> None:
    """Every configured feed as OPML 2.0, in one folder per tag.

    Example: aggregator export opml -o feeds.opml
    """
    from aggregator.export.service import Exporter

    config = _load(ctx)
    store = _open_store(config)
    try:
        with _errors_exit():
            body = Exporter(store, config).render_opml().body
    finally:
        store.close()
    _emit(body, output)


FeedFormat = Literal["atom", "rss", "json"]


def _feed_export(fmt: FeedFormat) -> Callable[..., None]:
    @click.option(
        "--tag", "tags", multiple=True, metavar="TAG", help="Only articles with one of these tags."
    )
    @click.option(
        "--since", "since_value", default=None, help="Only those first seen since: 24h, 7d, a date."
    )
    @click.option(
        "--limit",
        type=click.IntRange(1, 100000),
        default=None,
        help="At most this many, newest first (default: export.limit).",
    )
    @_output_option
    @_config_option
    @click.pass_context
    def command(
        ctx: click.Context,
        tags: tuple[str, ...],
        since_value: str | None,
        limit: int | None,
        output: str | None,
    ) -> None:
        from aggregator.export.items import Selection
        from aggregator.export.service import Exporter

        config = _load(ctx)
        _check_tags(config, tags)
        store = _open_store(config)
        try:
            with _errors_exit():
                since = _since(config.display.timezone, since_value, store, datetime.now(UTC))
                selection = Selection(
                    tuple(dict.fromkeys(tags)), since, limit or config.export.limit
                )
                body = Exporter(store, config).render_feed_uncached(selection, fmt).body
        finally:
            store.close()
        _emit(body, output)

    name = {"atom": "Atom 1.0", "rss": "RSS 2.0", "json": "JSON Feed 1.1"}[fmt]
    command.__doc__ = f"""The newest articles as {name}, full text where the feed's republish
    policy allows it (export.republish, feeds[].republish).

    Example: aggregator export {fmt} --tag politics --since 7d -o politics.{fmt}
    """
    return command


_FEED_FORMATS: tuple[FeedFormat, ...] = ("atom", "rss", "json")
for _fmt in _FEED_FORMATS:
    export_group.command(_fmt)(_feed_export(_fmt))


@cli.group("import")
def import_group() -> None:
    """Import subscriptions from other readers."""


@import_group.command("opml")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Give every feed this tag.")
@click.option("--dry-run", is_flag=True, help="Say what would be added; change nothing.")
@_config_option
@click.pass_context
def import_opml(ctx: click.Context, file: str, tags: tuple[str, ...], dry_run: bool) -> None:
    """Add the feeds of an OPML file (from Miniflux, FreshRSS, newsboat, Feedly...) to the
    config file, keeping its comments; folders that match tags give those tags.

    Example: aggregator import opml subscriptions.opml --tag world --dry-run
    """
    from aggregator.export.opml import parse
    from aggregator.export.opml_import import apply_import, plan_import

    config = _load(ctx)
    _check_tags(config, tags)
    path = (ctx.find_root().obj or {}).get("config_path") or config.source
    try:
        data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        _fail(f"{file}: cannot read: {exc.strerror or exc}")
    try:
        plan = plan_import(parse(data), config, extra_tags=tags)
        if not dry_run and path:
            source = "standard input" if file == "-" else Path(file).name
            apply_import(Path(path), plan, note=f"Imported from {source} (OPML)")
    except AggregatorError as exc:
        _fail(str(exc), 1)
    verb = "would add" if dry_run else "added"
    click.echo(f"{verb} {len(plan.added)} feeds to {path}" + (":" if plan.added else ""))
    for feed in plan.added:
        tag_text = f" [{', '.join(feed.tags)}]" if feed.tags else ""
        title = f" {clean_line(feed.title, 60)!r}" if feed.title else ""
        click.echo(f"  + {clean_line(feed.url)}{title}{tag_text}")
    if plan.skipped:
        click.echo(f"skipped {len(plan.skipped)}:")
        for skip in plan.skipped:
            click.echo(f"  - {clean_line(skip.what, 120)}: {clean_line(skip.reason)}")
    if plan.unmatched:
        names = ", ".join(clean_line(n, 40) for n in plan.unmatched)
        click.echo(f"folders/categories matching no configured tag (ignored): {names}")


@cli.command("serve")
@click.option("--listen", metavar="HOST:PORT", default=None, help="Default: serve.listen.")
@click.option(
    "--allow-remote", is_flag=True, help="Allow a non-loopback address (the feeds go public)."
)
@_config_option
@click.pass_context
def serve_cmd(ctx: click.Context, listen: str | None, allow_remote: bool) -> None:
    """Serve the exports over read-only HTTP: /opml, /feeds/all.atom, /feeds/tag/TAG.rss,
    /healthz. Loopback only unless told otherwise.

    Example: aggregator serve --listen 127.0.0.1:8080
    """
    import signal
    import threading

    from aggregator.export.server import start_server

    gc.enable()
    config = _load(ctx, daemon=True)
    store = _open_store(config)
    stop = threading.Event()
    try:
        try:
            server = start_server(
                config, store, listen=listen, allow_remote=allow_remote or None
            ).start()
        except ConfigError as exc:
            _fail("; ".join(exc.problems))
        except AggregatorError as exc:
            _fail(str(exc))
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        click.echo(f"serving on {server.url}  (/opml, /feeds/all.atom, /healthz)", err=True)
        while not stop.wait(1.0):
            pass
        server.stop()
    finally:
        store.close()


# -- tags: explain / retag / eval ------------------------------------------------------------


@cli.group("tags")
def tags_group() -> None:
    """Why an article has its tags; re-tag after a change; measure the tagger."""


def _open_tagger(config: Config, *, with_model: bool | None = None) -> Any:
    from aggregator.ingest.tag.loader import open_tagger

    with _errors_exit():
        try:
            return open_tagger(config, with_model=with_model)
        except AggregatorError as exc:
            _fail(str(exc))


@tags_group.command("explain")
@click.argument("article_id")
@_config_option
@click.pass_context
def tags_explain_cmd(ctx: click.Context, article_id: str) -> None:
    """Every tag of an article: source (model, rule, feed, category), score and what matched
    where; then what the current config and model would decide (model scores, vetoes).

    Example: aggregator tags explain 1024
    """
    from rich.table import Table
    from rich.text import Text

    from aggregator.ingest.tag.explain import report_for_article
    from aggregator.ingest.tag.loader import tagging_for

    config = _load(ctx)
    ident = _article_id(article_id)
    store = _open_store(config)
    try:
        with _errors_exit():
            stored = store.article_tags(ident)
            found = store.articles_to_tag(None, ident - 1, 1)
    finally:
        store.close()
    if not found or found[0].id != ident:
        _fail(f"no article #{ident}", 1)
    article = found[0]
    now = report_for_article(config, tagging_for(config, _open_tagger(config)), article)
    console = _console()
    console.print(Text(f"#{ident} {clean_line(article.title)}", style="bold"))
    table = Table("tag", "source", "score", "detail", title="stored tags", title_justify="left")
    order = {"feed": 0, "category": 1, "rule": 2, "model": 3}
    for t in sorted(stored, key=lambda t: (order.get(t.source, 9), -t.score, t.tag)):
        table.add_row(t.tag, t.source, f"{t.score:.3f}", Text(clean_line(t.detail, 100)))
    if not stored:
        table.add_row("-", "-", "-", "no tags")
    console.print(table)
    if now.model_scores:
        top = sorted(now.model_scores.items(), key=lambda kv: -kv[1])[:3]
        shown = ", ".join(f"{tag} {score:.3f}" for tag, score in top)
        console.print(f"model now: {shown} (threshold {config.tagger.threshold})")
    elif config.tagger.enabled:
        console.print("model now: abstains (too little Korean text)")
    for tag, detail in now.vetoed.items():
        console.print(Text(f"vetoed now: {tag} ({clean_line(detail, 100)})"))
    if {(t.tag, t.source) for t in now.tags} != {(t.tag, t.source) for t in stored}:
        console.print("the current config or model would tag it differently: aggregator tags retag")


@tags_group.command("retag")
@click.option(
    "--since", "since_value", default=None, help="Only articles first seen since: 24h, 7d, a date."
)
@_config_option
@click.pass_context
def tags_retag_cmd(ctx: click.Context, since_value: str | None) -> None:
    """Re-apply feed tags, categories, rules and the model to stored articles, in batches
    (each batch in one transaction: no article is ever half-tagged).

    Example: aggregator tags retag --since 7d
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from aggregator.service.upkeep import retag

    config = _load(ctx)
    tagger = _open_tagger(config)
    store = _open_store(config)
    try:
        with _errors_exit():
            since = _since(config.display.timezone, since_value, store, datetime.now(UTC))
            total = store.count_articles_to_tag(since)
            with Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=_console(stderr=True),
            ) as progress:
                task = progress.add_task("retagging", total=total)
                done = retag(
                    store,
                    config,
                    tagger,
                    since=since,
                    on_batch=lambda n: progress.advance(task, n),
                )
    finally:
        store.close()
    click.echo(f"retagged {done} articles")


@tags_group.command("eval")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_config_option
@click.pass_context
def tags_eval_cmd(ctx: click.Context, path: str, as_json: bool) -> None:
    """Measure the full tagger on a labelled file: label<TAB>title[<TAB>text] rows, labels
    being tag names or their labels. A row's prediction is its highest-scoring tag among the
    file's labels (none if it has none of them).

    Example: aggregator tags eval held-out.tsv --json
    """
    from rich.table import Table

    from aggregator.ingest.tag.evaluate import evaluate, read_eval_file

    config = _load(ctx)
    with _errors_exit():
        rows = read_eval_file(Path(path), config)
    if not rows:
        _fail(f"{path}: no rows")
    result = evaluate(rows, config, _open_tagger(config))
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    table = Table("label", "precision", "recall", "F1", "support")
    for label, m in result["per_label"].items():
        table.add_row(
            label,
            f"{m['precision']:.3f}",
            f"{m['recall']:.3f}",
            f"{m['f1']:.3f}",
            str(m["support"]),
        )
    console = _console()
    console.print(table)
    console.print(
        f"macro-F1 {result['macro_f1']:.4f}  accuracy {result['accuracy']:.4f}  "
        f"rows {result['rows']}  without prediction {result['no_prediction']}"
    )


def main() -> None:
    # Most commands are short: the cyclic collector's passes over the objects the imports
    # create (and its final pass at exit) cost ~0.13 s and free nothing worth having.
    # `run` and `poll`, which allocate for minutes or months, turn it back on.
    gc.disable()
    atexit.register(gc.freeze)
    try:
        cli(prog_name="aggregator")
    except AggregatorError as exc:
        # Every command that can meet one handles it; this is the net under them, so that
        # a user never sees a traceback for a database or input problem.
        click.echo(f"aggregator: {exc}", err=True)
        sys.exit(2 if isinstance(exc, (ConfigError, StoreError)) else 1)
