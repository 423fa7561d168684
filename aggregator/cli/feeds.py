"""The feed commands: ``check-config``, ``poll``, ``feeds`` (their health), ``list`` (stored
articles) and ``extract`` (one page's full text), with the pure functions that build what
they print.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import click

from aggregator.cli.common import (
    config_option,
    echo_json,
    errors_exit,
    fail,
    iso,
    load,
    local_time,
    make_plain_console,
    open_store,
    redact,
)
from aggregator.errors import AggregatorError
from aggregator.text.durations import format_seconds
from aggregator.text.terminal import clean, clean_line, inert_json

if TYPE_CHECKING:
    from rich.table import Table
    from rich.text import Text

    from aggregator.config.schema import Config
    from aggregator.models import ExtractedArticle, FeedUpdateResult
    from aggregator.store.records.reading import ArticleView, FeedHealth
    from aggregator.store.records.service import InstanceInfo

__all__ = [
    "COMMANDS",
    "NO_ARTICLES",
    "config_summary",
    "extract_heading",
    "extract_json",
    "feeds_document",
    "feeds_table",
    "list_document",
    "list_table",
    "no_articles_message",
    "poll_result_line",
    "poll_summary",
    "status_style",
]

NO_ARTICLES = "no articles yet: run `aggregator poll`"


def no_articles_message(instances: Sequence[InstanceInfo], now: datetime) -> str:
    """What ``list`` says when there is nothing to list: run a poll, unless a daemon is
    running (a live heartbeat), which stores articles as it polls."""
    from aggregator.store.records.service import ALIVE_SECONDS

    alive = [
        i
        for i in instances
        if i.stopped_at is None and (now - i.heartbeat_at).total_seconds() <= ALIVE_SECONDS
    ]
    if not alive:
        return NO_ARTICLES
    daemon = alive[0]
    return (
        f"no articles yet: a daemon is running (pid {daemon.pid} on {clean_line(daemon.hostname)})"
        " and stores them as it polls; `aggregator status` shows how it is doing"
    )


POLL_INTERRUPTED = (
    "interrupted: stopping; feeds being written finish, the rest are left for the next poll"
)


def status_style(status: str) -> str:
    """The colour of a feed update's status (ok, not_modified, error), in poll and feeds."""
    return {"ok": "green", "not_modified": "cyan", "error": "red"}.get(status, "")


# -- check-config ------------------------------------------------------------------------------


def config_summary(config: Config, database: str) -> str:
    """What ``check-config`` says of a valid config; ``database`` is the redacted URL."""
    return (
        f"config OK: {config.source}: {len(config.feeds)} feeds "
        f"({sum(f.enabled for f in config.feeds)} enabled), {len(config.tags)} tags, "
        f"database {database}"
    )


@click.command("check-config")
@config_option
@click.pass_context
def check_config(ctx: click.Context) -> None:
    """Validate the configuration and say what it holds.

    Example: aggregator check-config --config ./config.yaml
    """
    config = load(ctx)
    from sqlalchemy.engine import make_url

    url = config.database_url()
    try:
        make_url(url)
    except Exception:
        where = (
            "AGGREGATOR_DATABASE_URL" if os.environ.get("AGGREGATOR_DATABASE_URL") else "database"
        )
        fail(f"invalid configuration: {where}: not a SQLAlchemy database URL")
    click.echo(config_summary(config, redact(config.database_url())))


# -- poll --------------------------------------------------------------------------------------


def poll_result_line(result: FeedUpdateResult) -> Text:
    """One feed's line as ``poll`` prints it when its update is done (its error under it)."""
    from rich.text import Text

    line = Text()
    line.append(f"{result.status:<12}", style=status_style(result.status))
    line.append(
        f" new={result.new:<3} updated={result.updated:<3} "
        f"linked={result.linked:<3} extracted={result.extracted:<3} "
        f"{result.ms / 1000:6.1f}s  "
    )
    if result.extract_failed:
        line.append(f"pages failed={result.extract_failed}  ", style="yellow")
    line.append(clean_line(result.feed_url))
    if result.error:
        line.append("\n             " + clean_line(result.error, 300), style="red")
    return line


def poll_summary(feeds: int, results: Sequence[FeedUpdateResult]) -> str:
    """The last line of ``poll``: how many of the ``feeds`` polled failed, and the totals."""
    failed = sum(r.status == "error" for r in results)
    pages_failed = sum(r.extract_failed for r in results)
    return (
        f"{feeds} feeds: {feeds - failed} ok, {failed} failed; "
        f"{sum(r.new for r in results)} new articles, {sum(r.updated for r in results)} "
        f"updated, {sum(r.extracted for r in results)} extracted"
        # Those articles keep the feed's text; a user would not know without being told.
        + (
            f", {pages_failed} pages failed (kept with the feed's text; each one's "
            "extract_error is in `aggregator list --json --limit N`)"
            if pages_failed
            else ""
        )
    )


@click.command("poll")
@click.option(
    "--feed", "feed_urls", multiple=True, metavar="URL", help="Only this feed (repeatable)."
)
@config_option
@click.pass_context
def poll(ctx: click.Context, feed_urls: tuple[str, ...]) -> None:
    """Update every enabled feed once (or only --feed URL) and store new articles.

    Example: aggregator poll --feed https://www.yna.co.kr/rss/news.xml
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.text import Text

    from aggregator.ingest.pipeline import poll_feeds

    gc.enable()
    config = load(ctx)
    if feed_urls:
        feeds = []
        for url in feed_urls:
            feed = config.feed(url)
            if feed is None:
                fail(f"--feed {url}: not in the configuration ({config.source})")
            feeds.append(feed)
    else:
        feeds = [f for f in config.feeds if f.enabled]
    if not feeds:
        fail("no feeds to poll: add some under `feeds:` in the config")

    out = make_plain_console()
    err = make_plain_console(stderr=True)
    results: list[FeedUpdateResult] = []
    from aggregator.service.runtime import open_services, prepare_workers_for

    interrupted = False
    # On a terminal the bar shares the screen with the result lines: drawn on their console,
    # rich clears and redraws it around each line (drawn on stderr, it was overprinted).
    bar_console = out if out.is_terminal else err
    with (
        errors_exit(),
        open_services(config, prepare_workers=prepare_workers_for(feeds)) as services,
    ):
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=bar_console,
            transient=True,
            disable=not bar_console.is_terminal,
        )
        with progress:
            task = progress.add_task("feeds", total=len(feeds))
            # Shown once a feed queues article pages; its total grows as feeds do.
            pages = progress.add_task("pages", total=0, visible=False)
            pages_lock = threading.Lock()
            pages_queued = [0]

            def on_pages(queued: int, done: int) -> None:
                with pages_lock:  # called from the feed threads
                    pages_queued[0] += queued
                    progress.update(pages, total=pages_queued[0], advance=done, visible=True)

            services = replace(services, control=replace(services.control, on_pages=on_pages))

            def report(result: FeedUpdateResult) -> None:
                results.append(result)
                line = poll_result_line(result)
                if out.is_terminal:
                    out.print(line, soft_wrap=True)
                else:
                    # To a pipe or a log: the plain line as is (rich's layout cost ~3 ms a
                    # line, a second of a cold poll of 200 feeds, for no visible change).
                    out.file.write(line.plain + "\n")
                progress.advance(task)

            try:
                poll_feeds(feeds, services, on_result=report)
            except KeyboardInterrupt:
                err.print(Text(POLL_INTERRUPTED))
                interrupted = True
    if interrupted:
        sys.exit(130)
    out.print(Text(poll_summary(len(feeds), results)))
    sys.exit(1 if any(r.status == "error" for r in results) else 0)


# -- feeds -------------------------------------------------------------------------------------


def feeds_document(rows: Sequence[FeedHealth], enabled: Mapping[str, bool]) -> list[dict[str, Any]]:
    """``feeds --json``: each feed's health; ``enabled`` maps a feed's URL to its config's."""
    return [
        {
            "url": h.url,
            "title": h.title,
            "enabled": enabled[h.url],
            "last_checked": iso(h.last_checked_at),
            "last_success": iso(h.last_success_at),
            "status": h.last_status,
            "http_status": h.last_http_status,
            "error_count": h.error_count,
            "last_error": h.last_error,
            "entries": h.entries,
            "last_new": h.last_new,
            "last_duration_ms": h.last_duration_ms,
            "next_check": iso(h.next_check_at),
            "interval_seconds": h.interval_seconds,
        }
        for h in rows
    ]


def _next_check(health: FeedHealth, zone: ZoneInfo) -> str:
    """``11-26 09:30, every 2h00m``: when the daemon polls the feed next, and the
    interval it learned."""
    if health.next_check_at is None:
        return "check: due now"
    when = local_time(health.next_check_at, zone)[5:]
    if not health.interval_seconds:
        return when
    return f"{when}, every {format_seconds(health.interval_seconds)}"


def feeds_table(rows: Sequence[FeedHealth], zone: ZoneInfo) -> Table:
    """``feeds``: one row per feed, its title, URL and last error in the last column."""
    from rich.table import Table
    from rich.text import Text

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
        feed.append("\nnext check " + _next_check(h, zone).removeprefix("check: "), style="dim")
        if h.last_error:
            feed.append("\n" + clean_line(h.last_error, 160), style="red")
        table.add_row(
            Text(status, style=status_style(status)),
            Text(local_time(h.last_checked_at, zone)),
            Text(str(h.entries)),
            Text(str(h.error_count)),
            feed,
        )
    return table


@click.command("feeds")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@config_option
@click.pass_context
def feeds_cmd(ctx: click.Context, as_json: bool) -> None:
    """Each feed's health: last check, status, entries, last error.

    Example: aggregator feeds --json
    """
    config = load(ctx)
    store = open_store(config)
    try:
        store.sync_feeds([(f.url, f.title) for f in config.feeds], datetime.now(UTC))
        health = {h.url: h for h in store.feed_health()}
    finally:
        store.close()
    configured = [f.url for f in config.feeds]
    rows = [health[u] for u in configured if u in health]
    if as_json:
        enabled = {h.url: (config.feed(h.url) or config.feeds[0]).enabled for h in rows}
        echo_json(feeds_document(rows, enabled))
        return
    make_plain_console(wide_when_piped=True).print(
        feeds_table(rows, ZoneInfo(config.display.timezone))
    )


# -- list --------------------------------------------------------------------------------------


def list_document(articles: Sequence[ArticleView]) -> list[dict[str, Any]]:
    """``list --json``: the articles with their full text."""
    return [
        {
            "id": a.id,
            "feed": a.feed_url,
            "feed_title": a.feed_title,
            "url": a.url,
            "title": a.title,
            "author": a.author,
            "published": iso(a.published_at),
            "first_seen": iso(a.first_seen_at),
            "tags": list(a.tags),
            "text": a.text,
            "text_source": a.text_source,
            "extract_status": a.extract_status,
            "extract_error": a.extract_error,
        }
        for a in articles
    ]


# Below this width `list` keeps to one line per article: the text length and source
# columns go, the time loses its year, and long titles and tag lists end in an ellipsis.
LIST_WIDE = 120


def list_table(articles: Sequence[ArticleView], zone: ZoneInfo, width: int = LIST_WIDE) -> Table:
    """``list``: one line per article, its text's length rather than the text. At 80 columns
    the title keeps about half the line; tags are cut whole, never broken inside a word."""
    from rich.table import Table
    from rich.text import Text

    wide = width >= LIST_WIDE
    table = Table(pad_edge=False, box=None, show_edge=False)
    table.add_column("id", justify="right", no_wrap=True)
    table.add_column("published", no_wrap=True)
    table.add_column("feed", overflow="ellipsis", no_wrap=True, max_width=14 if wide else 10)
    if wide:
        table.add_column("title", overflow="ellipsis", no_wrap=True, ratio=1)
    else:
        # What is left of the line after id, time, feed and tags (and the gaps between).
        ids = max((len(str(a.id)) for a in articles), default=2)
        table.add_column(
            "title",
            overflow="ellipsis",
            no_wrap=True,
            width=max(16, width - ids - 11 - 10 - 14 - 8),
        )
    table.add_column("tags", overflow="ellipsis", no_wrap=True, max_width=24 if wide else 14)
    if wide:
        table.add_column("text", justify="right", no_wrap=True)
        table.add_column("source", no_wrap=True)
    for a in articles:
        when = local_time(a.published_at or a.first_seen_at, zone)
        cells = [
            Text(str(a.id)),
            Text(when if wide else when[5:]),
            Text(clean_line(a.feed_title or a.feed_url, 40)),
            Text(clean_line(a.title, 200)),
            Text(",".join(clean_line(t) for t in a.tags)),
        ]
        if wide:
            cells += [Text(f"{len(a.text):,}"), Text(a.text_source)]
        table.add_row(*cells)
    return table


@click.command("list")
@click.option("--feed", "feed_url", metavar="URL", help="Only articles of this feed.")
@click.option("--tag", metavar="TAG", help="Only articles with this tag.")
@click.option("--limit", default=30, show_default=True, type=click.IntRange(1, 100000))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@config_option
@click.pass_context
def list_cmd(
    ctx: click.Context, feed_url: str | None, tag: str | None, limit: int, as_json: bool
) -> None:
    """Stored articles, newest first.

    Example: aggregator list --tag politics --limit 10
    """
    from rich.text import Text

    config = load(ctx)
    store = open_store(config, create=False)
    try:
        articles = store.list_articles(feed_url=feed_url, tag=tag, limit=limit)
        instances = store.instances() if not articles else []
    finally:
        store.close()
    if as_json:
        echo_json(list_document(articles))
        return
    console = make_plain_console()
    if not articles:
        console.print(Text(no_articles_message(instances, datetime.now(UTC))))
        return
    console.print(list_table(articles, ZoneInfo(config.display.timezone), console.width))


# -- extract -----------------------------------------------------------------------------------


def extract_json(url: str, article: ExtractedArticle) -> str:
    """``extract --json``: everything extracted, indented; for a page without text only the
    URL, the source and the empty text, on one line (the command then exits with status 1)."""
    if not article.text:
        return inert_json({"url": url, "source": article.source, "text": ""}, indent=None)
    document = {
        "url": url,
        "title": article.title,
        "author": article.author,
        "date": iso(article.date),
        "language": article.language,
        "image": article.image,
        "source": article.source,
        "text": article.text,
        "html": article.html,
    }
    return inert_json(document)


def extract_heading(article: ExtractedArticle) -> tuple[Text, Text]:
    """The title line and the meta line (author, date, which step found the text) that
    ``extract`` prints above the text."""
    from rich.text import Text

    meta = [article.author, iso(article.date), f"source: {article.source}"]
    return (
        Text(clean_line(article.title or "(no title)"), style="bold"),
        Text(clean_line(" · ".join(m for m in meta if m)), style="dim"),
    )


@click.command("extract")
@click.argument("target")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@config_option
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
        config = load(ctx)
        from aggregator.service.runtime import fetch_settings

        with HttpFetcher(fetch_settings(config)) as fetcher:
            try:
                page = fetcher.fetch(target)
            except AggregatorError as exc:
                fail(str(exc), 1)
        body, url, content_type = page.content, page.final_url, page.content_type
    elif path.is_file():
        body, url = path.read_bytes(), path.resolve().as_uri()
    else:
        fail(f"{target}: neither an http(s) URL nor a readable file")
    try:
        article = extract_article(body, url, content_type=content_type)
    except AggregatorError as exc:
        fail(str(exc), 1)
    if as_json:
        click.echo(extract_json(url, article))
    if not article.text:
        fail(f"{target}: no article text found", 1)
    if as_json:
        return
    console = make_plain_console()
    for line in extract_heading(article):
        console.print(line)
    console.print()
    # On a terminal rich wraps at word boundaries; piped text keeps its own lines.
    console.print(Text(clean(article.text)), soft_wrap=not console.is_terminal)


# What this module adds to the `cli` group (aggregator/cli/__init__.py).
COMMANDS: tuple[click.Command, ...] = (check_config, poll, feeds_cmd, list_cmd, extract_cmd)
