"""The reading commands: ``digest``, ``show``, ``read``/``unread``, ``star`` and ``search``.

All but ``star`` take the cached reading config and the plain-sqlite3 read path
(:func:`aggregator.cli.common.open_reading`), so that they start without pydantic or
SQLAlchemy. What they print is built by :mod:`aggregator.read.render` (digest, article),
:mod:`aggregator.read.search` (search results) and the functions here (the short replies).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

import click

from aggregator.cli.common import (
    check_tags,
    config_option,
    errors_exit,
    fail,
    is_last,
    load,
    load_reading,
    open_reading,
    open_store,
    parse_article_id,
    parse_since_option,
    tag_labels,
)
from aggregator.config.file import display_language

if TYPE_CHECKING:
    from aggregator.config.file import ReadingConfig
    from aggregator.read.digest import Digest
    from aggregator.read.library import Library
    from aggregator.store.reading_sql import Reading

__all__ = ["COMMANDS", "browse_library", "mark_message", "star_message"]

F = TypeVar("F", bound=Callable[..., Any])

# More rows than this and the digest counts its sections in SQL instead.
DIGEST_ROW_LIMIT = 5000
# Stories per section in browse: a reader scrolls, a digest is read at a glance.
BROWSE_PER_TAG = 300


def mark_message(changed: int, asked: int, *, read: bool, missing: Sequence[int] = ()) -> str:
    """The reply of ``read``/``unread``: ``changed`` of the ``asked`` articles exist; the
    ``missing`` ones are named."""
    message = f"marked {changed} of {asked} articles {'read' if read else 'unread'}"
    if missing:
        shown = ", ".join(f"#{i}" for i in missing[:10]) + (" ..." if len(missing) > 10 else "")
        message += f"; no article {shown}"
    return message


def star_message(changed: int, asked: int, *, undo: bool) -> str:
    return f"{'unstarred' if undo else 'starred'} {changed} of {asked} articles"


def since_and_tags(func: F) -> F:
    """``--since`` and ``--tag``, as digest and browse take them."""
    func = click.option(
        "--tag", "tags", multiple=True, metavar="TAG", help="Only these tags (repeatable)."
    )(func)
    return click.option(
        "--since",
        "since_value",
        default="24h",
        show_default=True,
        help="24h, 7d, a date (2026-11-25), or 'last' (since the previous digest).",
    )(func)


# -- digest --------------------------------------------------------------------------------


@click.command("digest")
@since_and_tags
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
@config_option
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
    from aggregator.read.digest import LAST_DIGEST_STATE_KEY
    from aggregator.read.render import make_console, render_json, render_markdown, render_text

    config = load_reading(ctx)
    check_tags(config, tags)
    feed_urls = []
    for url in feeds:
        feed = config.feed(url)
        if feed is None:
            fail(f"--feed {url}: not in the configuration ({config.source})")
        feed_urls.append(feed)
    now = datetime.now(UTC)
    with open_reading(config) as store, errors_exit():
        digest = _digest(config, store, since_value, tags, feed_urls, limit, now)
        if fmt == "json":
            click.echo(render_json(digest))
        elif fmt == "markdown":
            click.echo(render_markdown(digest))
        else:
            render_text(digest, make_console())
        # A narrowed digest (one tag, one feed) is not "the" digest: it leaves "last" be.
        if not tags and not feeds:
            store.set_state(LAST_DIGEST_STATE_KEY, now.isoformat())


def _digest(
    config: ReadingConfig,
    store: Reading,
    since_value: str,
    tags: Sequence[str],
    feed_urls: Sequence[str],
    limit: int,
    now: datetime,
    *,
    leads: bool = True,
) -> Digest:
    """The digest of ``digest`` and ``browse``, from the reading queries; ``leads=False``
    leaves the stories' leads empty (browse shows the article itself, not a lead)."""
    from aggregator.read.digest import build_digest, section_order

    language = display_language(config.language)
    since = parse_since_option(config.timezone, since_value, store, now)
    assert since is not None
    rows = store.digest_rows(
        since,
        tags=tags,
        feeds=feed_urls,
        limit=DIGEST_ROW_LIMIT,
        by_first_seen=is_last(since_value),
        with_text=False,
    )
    # A long period has more articles than the digest loads: count them in SQL.
    counts = (
        store.digest_counts(
            since,
            tag_order=section_order(list(config.tags), tags),
            tags=tags,
            feeds=feed_urls,
            by_first_seen=is_last(since_value),
        )
        if len(rows) >= DIGEST_ROW_LIMIT
        else None
    )
    build = partial(
        build_digest,
        now=now,
        tz=ZoneInfo(config.timezone),
        tag_order=section_order(list(config.tags), tags),
        tag_labels=tag_labels(config, language),
        language=language,
        since=since,
        limit_per_tag=limit,
        counts=counts,
        stories=store.story_info([row.id for row in rows]),
    )
    if not leads:
        return build(rows)
    # Built twice: first to learn which stories make it in, then with the openings of
    # just their texts loaded for the leads (a day has thousands of articles).
    shown = [story.id for section in build(rows).sections for story in section.stories]
    return build(store.with_text(rows, shown))


# -- browse ----------------------------------------------------------------------------------


@click.command("browse")
@since_and_tags
@config_option
@click.pass_context
def browse_cmd(ctx: click.Context, since_value: str, tags: tuple[str, ...]) -> None:
    """Read interactively: tag sections, their stories, an article's full text.

    Keys as in newsboat: j/k move, Enter opens, n next unread, r read/unread, s star,
    / search, t pick a tag, o open the link in a browser, q back (quit from the sections).

    Example: aggregator browse --since last
    """
    import importlib
    import threading
    import webbrowser

    # Textual takes longer to import than the first digest takes to read: do both at once
    # (SQLite releases the GIL while it reads), so that the first screen comes sooner.
    importing = threading.Thread(
        target=importlib.import_module, args=("aggregator.read.browse",), daemon=True
    )
    importing.start()
    config = load_reading(ctx)
    check_tags(config, tags)
    if not sys.stdout.isatty():
        fail("browse is interactive: run it in a terminal (for a script: digest, list, show)")
    with open_reading(config) as store, errors_exit():
        library = browse_library(config, store, since_value, tags, webbrowser.open)
        first = library.digest()
        importing.join()
        from aggregator.read.browse import BrowseApp

        BrowseApp(library, first).run()


def browse_library(
    config: ReadingConfig,
    store: Reading,
    since_value: str,
    tags: Sequence[str],
    open_link: Callable[[str], bool],
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Library:
    """What ``browse`` reads and changes, over the reading queries."""
    from aggregator.read.library import Library

    return Library(
        digest=lambda: _digest(
            config, store, since_value, tags, (), BROWSE_PER_TAG, clock(), leads=False
        ),
        article=store.article,
        mark_read=lambda ids, read: store.mark_read(ids, read),
        set_starred=store.set_starred,
        search=lambda query: store.search(query, tags=tags, limit=100),
        open_link=open_link,
        tag_labels=tag_labels(config, display_language(config.language)),
        timezone=ZoneInfo(config.timezone),
        language=display_language(config.language),
    )


# -- show / read / unread / star -----------------------------------------------------------


@click.command("show")
@click.argument("article_id")
@click.option("--open", "open_link", is_flag=True, help="Open the article's link in a browser.")
@click.option("--no-pager", is_flag=True, help="Print instead of paging on a terminal.")
@config_option
@click.pass_context
def show_cmd(ctx: click.Context, article_id: str, open_link: bool, no_pager: bool) -> None:
    """One article in full: outlet, author, time, tags, link and the text (marks it read).

    Example: aggregator show 1024
    """
    from aggregator.read.render import make_console, render_article

    config = load_reading(ctx)
    ident = parse_article_id(article_id)
    with open_reading(config) as store, errors_exit():
        view = store.article(ident)
        if view is None:
            fail(f"no article #{ident}", 1)
        story = store.story_members(ident)
        store.mark_read([ident], True)
    if open_link:
        import webbrowser

        from aggregator.text.urls import is_http_url

        # Feed links are untrusted: only http(s) goes to the browser, never a shell.
        if view.url and is_http_url(view.url):
            if not webbrowser.open(view.url):
                from aggregator.text.terminal import clean_line

                fail(f"no web browser to open article #{ident}: {clean_line(view.url)}", 1)
        else:
            fail(f"article #{ident} has no http(s) link to open", 1)
        return
    console = make_console()
    labels = tag_labels(config, display_language(config.language))
    show = partial(
        render_article,
        view,
        console,
        tz=ZoneInfo(config.timezone),
        tag_labels=labels,
        story=story,
        language=display_language(config.language),
    )
    if console.is_terminal and not no_pager:
        # Plain `less` shows colour codes as text; -R passes them, -F/-X quit on short text.
        os.environ.setdefault("LESS", "-FRX")
        with console.pager(styles=True):
            show()
    else:
        show()


def _mark(ctx: click.Context, ids: tuple[str, ...], read: bool) -> None:
    config = load_reading(ctx)
    numbers = list(dict.fromkeys(parse_article_id(i) for i in ids))
    with open_reading(config) as store, errors_exit():
        changed = store.mark_read(numbers, read)
        missing = [i for i in numbers if store.article(i) is None] if changed < len(numbers) else []
    click.echo(mark_message(changed, len(numbers), read=read, missing=missing))
    if changed < len(numbers):
        sys.exit(1)


@click.command("read")
@click.argument("ids", nargs=-1, required=True)
@config_option
@click.pass_context
def read_cmd(ctx: click.Context, ids: tuple[str, ...]) -> None:
    """Mark articles read (the digest shows read stories dimmed).

    Example: aggregator read 1024 1025
    """
    _mark(ctx, ids, True)


@click.command("unread")
@click.argument("ids", nargs=-1, required=True)
@config_option
@click.pass_context
def unread_cmd(ctx: click.Context, ids: tuple[str, ...]) -> None:
    """Mark articles unread.

    Example: aggregator unread 1024
    """
    _mark(ctx, ids, False)


@click.command("star")
@click.argument("ids", nargs=-1, required=True, type=int)
@click.option("--undo", is_flag=True, help="Unstar instead.")
@config_option
@click.pass_context
def star_cmd(ctx: click.Context, ids: tuple[int, ...], undo: bool) -> None:
    """Keep articles forever (retention never prunes starred articles).

    Example: aggregator star 1024 1031
    """
    config = load(ctx)
    store = open_store(config, create=False)
    try:
        with errors_exit():
            changed = store.set_starred(list(ids), not undo)
    finally:
        store.close()
    click.echo(star_message(changed, len(ids), undo=undo))
    if changed < len(ids):
        sys.exit(1)


# -- search --------------------------------------------------------------------------------


@click.command("search")
@click.argument("query", nargs=-1, required=True)
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Only these tags (repeatable).")
@click.option("--since", "since_value", default=None, help="24h, 7d, a date, or 'last'.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@config_option
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
    from aggregator.read.render import make_console
    from aggregator.read.search import no_match_line, render_search_json, render_search_text

    config = load_reading(ctx)
    check_tags(config, tags)
    text_query = " ".join(query)
    now = datetime.now(UTC)
    with open_reading(config) as store, errors_exit():
        since = parse_since_option(config.timezone, since_value, store, now)
        hits = store.search(text_query, tags=tags, since=since, limit=limit)
    if fmt == "json":
        click.echo(render_search_json(hits))
        return
    console = make_console()
    if not hits:
        console.print(no_match_line(text_query, since=since_value, tags=tags))
        sys.exit(1)
    render_search_text(hits, console, tz=ZoneInfo(config.timezone))


# What this module adds to the `cli` group (aggregator/cli/__init__.py).
COMMANDS: tuple[click.Command, ...] = (
    digest_cmd,
    browse_cmd,
    show_cmd,
    read_cmd,
    unread_cmd,
    star_cmd,
    search_cmd,
)
