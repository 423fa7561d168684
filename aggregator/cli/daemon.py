"""The service commands: ``run`` (the daemon), ``status`` (is one alive, what is failing),
``prune`` (retention) and ``db upgrade`` (the schema), with the pure functions that build
what they print.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

import click

from aggregator.cli.common import (
    config_option,
    echo_json,
    errors_exit,
    fail,
    iso,
    load,
    make_plain_console,
    open_store,
    redact,
)
from aggregator.errors import AggregatorError
from aggregator.text.terminal import clean_line

if TYPE_CHECKING:
    from rich.text import Text

    from aggregator.service.upkeep import PruneReport
    from aggregator.store.records.service import FailingFeed, InstanceInfo

__all__ = [
    "COMMANDS",
    "StatusReport",
    "prune_lines",
    "status_document",
    "status_lines",
    "upgrade_message",
]

# `status` lists this many failing feeds; `feeds` has them all.
FAILING_SHOWN = 20


# -- db ------------------------------------------------------------------------------------


def upgrade_message(database: str, before: str | None, after: str | None) -> str:
    """What ``db upgrade`` did to ``database`` (its redacted URL), by the revisions."""
    if before == after:
        return f"database {database} is up to date (revision {after})"
    return f"database {database} upgraded from {before or 'empty'} to {after}"


@click.group("db")
def db_group() -> None:
    """Database schema management."""


@db_group.command("upgrade")
@config_option
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Create or upgrade the database schema to this version's (back up first).

    Example: aggregator db upgrade
    """
    from aggregator.store.engine import make_engine, upgrade_schema

    config = load(ctx)
    url = config.database_url()
    with errors_exit():
        engine = make_engine(url)
        try:
            before, after = upgrade_schema(engine)
        finally:
            engine.dispose()
    click.echo(upgrade_message(redact(url), before, after))


# -- run -----------------------------------------------------------------------------------


@click.command("run")
@config_option
@click.pass_context
def run_cmd(ctx: click.Context) -> None:
    """Run the service: poll every feed on its own schedule until stopped.

    SIGHUP reloads the config; SIGTERM or Ctrl-C stops after in-flight feeds finish
    (schedule.shutdown_grace). Several instances can share a PostgreSQL database.

    Example: aggregator --config /etc/aggregator/config.yaml run
    """
    from aggregator.service.daemon import Daemon

    gc.enable()
    config = load(ctx, daemon=True)
    path = (ctx.find_root().obj or {}).get("config_path") or config.source
    try:
        code = Daemon(config, config_path=path).run()
    except AggregatorError as exc:
        fail(str(exc))
    sys.exit(code)


# -- status --------------------------------------------------------------------------------


class StatusReport(NamedTuple):
    """What ``status`` read from the store, as of ``now``. (A NamedTuple, not a dataclass:
    this module is imported by every command, ``--help`` included, and dataclasses cost
    more to import and create.)"""

    now: datetime
    # The instances seen in the last day, stopped ones included.
    instances: Sequence[InstanceInfo]
    feeds_due: int
    failing: Sequence[FailingFeed]
    counts: Mapping[str, int]
    database_bytes: int | None

    @property
    def alive(self) -> list[InstanceInfo]:
        """The running instances: not stopped, and with a recent heartbeat."""
        from aggregator.store.records.service import ALIVE_SECONDS

        return [
            i
            for i in self.instances
            if i.stopped_at is None and (self.now - i.heartbeat_at).total_seconds() <= ALIVE_SECONDS
        ]

    @property
    def last_cycle(self) -> datetime | None:
        return max((i.last_cycle_at for i in self.instances if i.last_cycle_at), default=None)


def status_document(report: StatusReport) -> dict[str, Any]:
    """``status --json``."""
    alive = report.alive
    return {
        "daemon_alive": bool(alive),
        "instances": [
            {
                "id": i.id,
                "hostname": i.hostname,
                "pid": i.pid,
                "version": i.version,
                "alive": i in alive,
                "started": iso(i.started_at),
                "heartbeat": iso(i.heartbeat_at),
                "last_cycle": iso(i.last_cycle_at),
                "stopped": iso(i.stopped_at),
            }
            for i in report.instances
        ],
        "last_cycle": iso(report.last_cycle),
        "feeds_due": report.feeds_due,
        "failing_feeds": [
            {
                "url": f.url,
                "title": f.title,
                "error_count": f.error_count,
                "last_error": f.last_error,
                "last_checked": iso(f.last_checked_at),
                "next_retry": iso(f.next_check_at),
                "gone": f.gone,
            }
            for f in report.failing
        ],
        "counts": dict(report.counts),
        "database_bytes": report.database_bytes,
    }


# The characters of a feed's last error that status shows: a resolver's or TLS library's
# message with its URL fits (150 cut "could not resolve host ...: [Errno -2] Name or se…").
ERROR_SHOWN = 400


def status_lines(report: StatusReport) -> list[Text]:
    """``status``: the live daemons (or that there is none), the totals, then the first
    failing feeds, each with its last error under it."""
    from rich.text import Text

    from aggregator.text.durations import format_age

    now, counts, size, failing = report.now, report.counts, report.database_bytes, report.failing
    lines = [
        Text(
            f"daemon alive: {i.hostname} pid {i.pid} (v{i.version}), "
            f"heartbeat {format_age(i.heartbeat_at, now)}, "
            f"last cycle {format_age(i.last_cycle_at, now)}",
            style="green",
        )
        for i in report.alive
    ] or [Text("no daemon alive (start one with `aggregator run`)", style="yellow")]
    lines.append(
        Text(
            f"feeds: {counts['feeds']} known, {report.feeds_due} due now, "
            f"{len(failing)} failing; articles: {counts['articles']:,}; database: "
            + (f"{size / 1_048_576:.1f} MiB" if size is not None else "size unknown")
        )
    )
    for f in failing[:FAILING_SHOWN]:
        line = Text(f"  {'gone' if f.gone else 'failing'} ×{f.error_count} ", style="red")
        # A title is shortened, a URL never (it is what one greps for, or pastes).
        line.append(clean_line(f.title, 50) if f.title else clean_line(f.url))
        line.append(f"  next retry {format_age(f.next_check_at, now)}", style="dim")
        if f.last_error:
            line.append("\n      " + clean_line(f.last_error, ERROR_SHOWN), style="dim")
        lines.append(line)
    if len(failing) > FAILING_SHOWN:
        more = len(failing) - FAILING_SHOWN
        lines.append(Text(f"  … and {more} more (see `aggregator feeds`)"))
    return lines


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@config_option
@click.pass_context
def status_cmd(ctx: click.Context, as_json: bool) -> None:
    """Is a daemon alive, when did it last cycle, what is due, what is failing.

    Example: aggregator status --json
    """
    config = load(ctx)
    store = open_store(config, create=False)
    now = datetime.now(UTC)
    try:
        report = StatusReport(
            now=now,
            instances=store.instances(since=now - timedelta(days=1)),
            feeds_due=store.due_count(now),
            failing=store.failing_feeds(),
            counts=store.counts(),
            database_bytes=store.database_size(),
        )
    finally:
        store.close()
    if as_json:
        echo_json(status_document(report))
        return
    console = make_plain_console(wide_when_piped=True)
    for line in status_lines(report):
        console.print(line)


# -- prune ---------------------------------------------------------------------------------


def prune_lines(report: PruneReport, *, dry_run: bool) -> list[str]:
    """``prune``: the total, then the count of each feed, largest first."""
    verb = "would prune" if dry_run else "pruned"
    lines = [f"{verb} {report.pruned} articles"]
    for url, count in sorted(report.by_feed.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {count:>6}  {clean_line(url)}")
    return lines


@click.command("prune")
@click.option("--dry-run", is_flag=True, help="Say what would be pruned; change nothing.")
@config_option
@click.pass_context
def prune_cmd(ctx: click.Context, dry_run: bool) -> None:
    """Delete articles older than their retention period (retention.keep_days), counted
    from when each was published or first seen, whichever is later.

    Starred articles stay. Pruned entries leave tombstones so that feeds still carrying
    them do not bring them back. The daemon does this daily.

    Example: aggregator prune --dry-run
    """
    from aggregator.service.upkeep import prune

    config = load(ctx)
    store = open_store(config)
    try:
        with errors_exit():
            report = prune(store, config, datetime.now(UTC), dry_run=dry_run)
    finally:
        store.close()
    for line in prune_lines(report, dry_run=dry_run):
        click.echo(line)


# What this module adds to the `cli` group (aggregator/cli/__init__.py).
COMMANDS: tuple[click.Command, ...] = (db_group, run_cmd, status_cmd, prune_cmd)
