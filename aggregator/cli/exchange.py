"""Exchanging with other programs: ``export opml|atom|rss|json``, ``import opml`` and
``serve`` (the exports over HTTP), with the pure function that reports an import.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import click

from aggregator.cli.common import (
    check_tags,
    config_option,
    errors_exit,
    fail,
    load,
    open_store,
    parse_since_option,
)
from aggregator.errors import AggregatorError, ConfigError
from aggregator.text.terminal import clean_line

if TYPE_CHECKING:
    from aggregator.export.opml_import import ImportPlan

__all__ = ["COMMANDS", "import_lines"]

FeedFormat = Literal["atom", "rss", "json"]
_FEED_FORMATS: tuple[FeedFormat, ...] = ("atom", "rss", "json")


def _emit(body: bytes, output: str | None) -> None:
    if output is None or output == "-":
        sys.stdout.buffer.write(body)
        sys.stdout.buffer.flush()
        return
    from aggregator.export.service import write_file

    try:
        write_file(Path(output), body)
    except AggregatorError as exc:
        fail(str(exc), 1)


# -- export --------------------------------------------------------------------------------


@click.group("export")
def export_group() -> None:
    """Export the feed list (OPML) or generated full-text feeds (Atom, RSS, JSON Feed)."""


_output_option = click.option(
    "-o", "--output", metavar="FILE", help="Write to FILE (atomically) instead of stdout."
)


@export_group.command("opml")
@_output_option
@config_option
@click.pass_context
def export_opml(ctx: click.Context, output: str | None) -> None:
    """Every configured feed as OPML 2.0, in one folder per tag.

    Example: aggregator export opml -o feeds.opml
    """
    from aggregator.export.service import Exporter, opml_body
    from aggregator.store.dbapi import parse_sqlite_url

    config = load(ctx)
    sqlite = parse_sqlite_url(config.database_url())
    if sqlite is not None and sqlite.path is not None and not sqlite.path.exists():
        # The feed list is the config's: no database yet (or a mistyped path) is no reason
        # to create one, only to go without the titles the feeds gave.
        _emit(opml_body(config), output)
        return
    store = open_store(config, create=False)
    try:
        with errors_exit():
            body = Exporter(store, config).render_opml().body
    finally:
        store.close()
    _emit(body, output)


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
    @config_option
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

        config = load(ctx)
        check_tags(config, tags)
        store = open_store(config)
        try:
            with errors_exit():
                since = parse_since_option(
                    config.display.timezone, since_value, store, datetime.now(UTC)
                )
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


for _fmt in _FEED_FORMATS:
    export_group.command(_fmt)(_feed_export(_fmt))


# -- import --------------------------------------------------------------------------------


def import_lines(plan: ImportPlan, path: str | None, *, dry_run: bool) -> list[str]:
    """What ``import opml`` reports: the feeds added to the config file at ``path``, those
    skipped and why, and the folders that matched no tag."""
    verb = "would add" if dry_run else "added"
    lines = [f"{verb} {len(plan.added)} feeds to {path}" + (":" if plan.added else "")]
    for feed in plan.added:
        tag_text = f" [{', '.join(feed.tags)}]" if feed.tags else ""
        title = f" {clean_line(feed.title, 60)!r}" if feed.title else ""
        lines.append(f"  + {clean_line(feed.url)}{title}{tag_text}")
    if plan.skipped:
        lines.append(f"skipped {len(plan.skipped)}:")
        for skip in plan.skipped:
            lines.append(f"  - {clean_line(skip.what, 120)}: {clean_line(skip.reason)}")
    if plan.unmatched:
        names = ", ".join(clean_line(n, 40) for n in plan.unmatched)
        lines.append(f"folders/categories matching no configured tag (ignored): {names}")
    return lines


@click.group("import")
def import_group() -> None:
    """Import subscriptions from other readers."""


@import_group.command("opml")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Give every feed this tag.")
@click.option("--dry-run", is_flag=True, help="Say what would be added; change nothing.")
@config_option
@click.pass_context
def import_opml(ctx: click.Context, file: str, tags: tuple[str, ...], dry_run: bool) -> None:
    """Add the feeds of an OPML file (from Miniflux, FreshRSS, newsboat, Feedly...) to the
    config file, keeping its comments; folders that match tags give those tags.

    Example: aggregator import opml subscriptions.opml --tag world --dry-run
    """
    from aggregator.export.opml import parse
    from aggregator.export.opml_import import apply_import, plan_import

    config = load(ctx)
    check_tags(config, tags)
    path = (ctx.find_root().obj or {}).get("config_path") or config.source
    try:
        data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        fail(f"{file}: cannot read: {exc.strerror or exc}")
    try:
        plan = plan_import(parse(data), config, extra_tags=tags)
        if not dry_run and path:
            source = "standard input" if file == "-" else Path(file).name
            apply_import(Path(path), plan, note=f"Imported from {source} (OPML)")
    except AggregatorError as exc:
        fail(str(exc), 1)
    for line in import_lines(plan, path, dry_run=dry_run):
        click.echo(line)


# -- serve ---------------------------------------------------------------------------------


@click.command("serve")
@click.option("--listen", metavar="HOST:PORT", default=None, help="Default: serve.listen.")
@click.option(
    "--allow-remote", is_flag=True, help="Allow a non-loopback address (the feeds go public)."
)
@config_option
@click.pass_context
def serve_cmd(ctx: click.Context, listen: str | None, allow_remote: bool) -> None:
    """Serve the exports over read-only HTTP: / (the day's stories, for a browser),
    /articles/ID, /opml, /feeds/all.atom, /feeds/tag/TAG.rss, /healthz. Loopback only
    unless told otherwise.

    Example: aggregator serve --listen 127.0.0.1:8080
    """
    import signal
    import threading

    from aggregator.export.server import start_server

    gc.enable()
    config = load(ctx, daemon=True)
    store = open_store(config)
    stop = threading.Event()
    try:
        try:
            server = start_server(
                config, store, listen=listen, allow_remote=allow_remote or None
            ).start()
        except ConfigError as exc:
            fail("; ".join(exc.problems))
        except AggregatorError as exc:
            fail(str(exc))
        received: list[int] = []

        def on_signal(signum: int, _frame: object) -> None:
            received.append(signum)
            stop.set()

        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, on_signal)
        click.echo(
            f"serving on {server.url}  (/ lists the feeds; /opml, /feeds/all.atom, /healthz)",
            err=True,
        )
        while not stop.wait(1.0):
            pass
        server.stop()
        name = signal.Signals(received[0]).name if received else "a stop"
        click.echo(f"stopped serving ({name})", err=True)
    finally:
        store.close()


# What this module adds to the `cli` group (aggregator/cli/__init__.py).
COMMANDS: tuple[click.Command, ...] = (export_group, import_group, serve_cmd)
