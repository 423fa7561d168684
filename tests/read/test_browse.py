"""``aggregator browse`` driven by Textual's pilot at 80×24 over a real SQLite database, with
the CLI's own Library (the reading queries): keys, the mouse, read and star state shared
with the other commands, search, untrusted text kept inert, and a daemon writing meanwhile."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from aggregator.cli.common import open_reading
from aggregator.cli.reading import browse_library
from aggregator.config.schema import parse_config
from aggregator.models import TagAssignment
from aggregator.read.browse import ArticleScreen, BrowseApp, StoriesScreen
from aggregator.store.sql import SqlStore
from tests.store.test_sql import article, entry, write

# Fixed, so that the screens (times, "N minutes ago") are the same at every run.
NOW = datetime(2026, 12, 2, 0, 30, tzinfo=UTC)
F = TypeVar("F", bound=Callable[..., Coroutine[Any, Any, None]])


def run_async(test: F) -> Callable[..., None]:
    """Run an async test on its own event loop (no async plugin needed)."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return wrapper


def _seed(store: SqlStore, feed: str, rows: list[tuple[str, str, str]]) -> None:
    store.sync_feeds([(feed, None)], NOW)
    state = store.feed_state(feed)
    assert state is not None
    entries = []
    for i, (key, title, tag) in enumerate(rows):
        art = article(
            key,
            title,
            published_at=NOW - timedelta(minutes=10 * (i + 1)),
            text=f"{title} 본문 첫 문단이다.\n둘째 문단에는 검색어 반도체가 있다.",
            tags=(TagAssignment(tag, "feed"),),
        )
        entries.append(entry(key, art))
    store.store_update(state.id, write(*entries, now=NOW))


@pytest.fixture
def library(tmp_path: Path) -> Iterator[tuple[Any, list[str], Path]]:
    url = f"sqlite:///{tmp_path / 'aggregator.db'}"
    store = SqlStore.open(url)
    _seed(
        store,
        "https://a.test/rss",
        [
            ("https://a.test/1", "국회 예산안 통과", "politics"),
            ("https://a.test/2", "여야 협상 재개 \x1b[2J\x1b]52;c;ZXZpbA==\x07[bold]x", "politics"),
            ("https://a.test/3", "손흥민 결승골", "sports"),
        ],
    )
    store.close()
    config = parse_config(
        {
            "database": url,
            "tags": {
                "politics": {"labels": {"ko": "정치"}},
                "sports": {"labels": {"ko": "스포츠"}},
            },
            "feeds": [{"url": "https://a.test/rss"}],
            # Fixed, not the locale's: the screens are compared with snapshots.
            "display": {"language": "ko"},
        }
    ).reading_view()
    opened: list[str] = []

    def open_link(link: str) -> bool:
        opened.append(link)
        return True

    with open_reading(config) as reading:
        yield (
            browse_library(config, reading, "7d", (), open_link, clock=lambda: NOW),
            opened,
            tmp_path,
        )


def _state(tmp_path: Path) -> dict[str, tuple[bool, bool]]:
    store = SqlStore.open(f"sqlite:///{tmp_path / 'aggregator.db'}")
    try:
        with store.reader() as reading:
            out = {}
            for ident in range(1, 10):
                view = reading.article(ident)
                if view is not None:
                    out[(view.url or "").rsplit("/", 1)[-1]] = (
                        view.read_at is not None,
                        view.starred,
                    )
            return out
    finally:
        store.close()


@run_async
async def test_keys_walk_sections_stories_and_the_text(library: Any) -> None:
    lib, opened, tmp_path = library
    app = BrowseApp(lib)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        sections = app.screen.query_one("#sections")
        labels = [str(row.value.label) for row in sections.children]
        assert labels == ["정치", "스포츠"]
        await pilot.press("enter")  # 정치
        await pilot.pause()
        assert isinstance(app.screen, StoriesScreen)
        await pilot.press("j", "k", "enter")  # the newest story
        await pilot.pause()
        assert isinstance(app.screen, ArticleScreen)
        body = str(app.screen.query_one("#body").render())
        assert "국회 예산안 통과" in body and "둘째 문단" in body
        await pilot.press("s", "o")  # star it, open its link
        await pilot.pause()
        assert opened == ["https://a.test/1"]
        await pilot.press("n")  # the next unread story of the section
        await pilot.pause()
        shown = str(app.screen.query_one("#body").render())
        assert "여야 협상 재개" in shown
        # Untrusted text is inert: no escape sequence, and markup printed as text.
        assert "\x1b" not in shown and "[bold]x" in shown
        await pilot.press("q", "q")
        await pilot.pause()
        assert "(" not in str(
            app.screen.query_one("#sections").children[0].query_one("Label").render()
        )
    state = _state(tmp_path)
    assert state["1"] == (True, True)  # read by opening, starred by s
    assert state["2"] == (True, False)
    assert state["3"] == (False, False)


@run_async
async def test_r_toggles_read_and_the_state_is_the_digest_s(library: Any) -> None:
    lib, _, tmp_path = library
    app = BrowseApp(lib)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("j", "enter")  # 스포츠
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        assert _state(tmp_path)["3"] == (True, False)
        await pilot.press("r")
        await pilot.pause()
        assert _state(tmp_path)["3"] == (False, False)
    digest = lib.digest()
    assert not any(story.read for section in digest.sections for story in section.stories)


@run_async
async def test_search_and_tag_picker(library: Any) -> None:
    lib, _, _ = library
    app = BrowseApp(lib)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press(*"반도체", "enter")
        await pilot.pause()
        assert isinstance(app.screen, StoriesScreen)
        assert len(app.screen.section.stories) == 3
        await pilot.press("escape", "t")
        await pilot.pause()
        await pilot.press("j", "enter")
        await pilot.pause()
        assert isinstance(app.screen, StoriesScreen) and app.screen.section.tag == "sports"


@run_async
async def test_the_mouse_opens_a_section(library: Any) -> None:
    lib, _, _ = library
    app = BrowseApp(lib)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.click("#sections", offset=(2, 0))  # a click opens, as Enter does
        await pilot.pause()
        assert isinstance(app.screen, StoriesScreen)
        await pilot.click("#stories", offset=(4, 0))
        await pilot.pause()
        assert isinstance(app.screen, ArticleScreen)


@run_async
async def test_stories_a_daemon_stores_meanwhile_appear_on_return(library: Any) -> None:
    lib, _, tmp_path = library
    app = BrowseApp(lib)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter")
        await pilot.pause()
        # Another process (the daemon) stores an article while the reader is open.
        store = SqlStore.open(f"sqlite:///{tmp_path / 'aggregator.db'}")
        _seed(store, "https://b.test/rss", [("https://b.test/9", "새 기사 도착", "sports")])
        store.close()
        await pilot.press("q")
        await pilot.pause()
        rows = app.screen.query_one("#sections").children
        assert "2" in str(rows[1].query_one("Label").render())  # 스포츠 now has two


@pytest.mark.parametrize(
    ("language", "words", "not_words"),
    [
        ("ko", ["종료", "다음 안 읽음", "안 읽음 2"], ["Quit", "unread"]),
        ("en", ["Quit", "Next unread", "2 unread"], ["종료", "읽음"]),
    ],
)
@run_async
async def test_the_reader_speaks_the_display_language(
    library: Any, language: str, words: list[str], not_words: list[str]
) -> None:
    """Keys, counts and notices in display.language, as the digest's headings are: no
    English footer over a Korean screen."""
    import dataclasses
    import html
    import re

    lib, _, _ = library
    app = BrowseApp(dataclasses.replace(lib, language=language))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        svg = app.export_screenshot()
    shown = html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")
    for word in words:
        assert word in shown, (word, shown[-400:])
    for word in not_words:
        assert word not in shown, (word, shown[-400:])


def test_browse_outside_a_terminal_says_what_to_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.clirun import run

    monkeypatch.delenv("AGGREGATOR_DATABASE_URL", raising=False)
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database: sqlite:///{tmp_path}/t.db\nfeeds:\n  - url: https://a.test/rss\n",
        encoding="utf-8",
    )
    result = run("browse", "--config", str(config))
    assert result.exit_code == 2, result.output
    assert "run it in a terminal" in result.output and "digest" in result.output
    assert not (tmp_path / "t.db").exists()


SNAPSHOTS = Path(__file__).parent / "snapshots"


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@run_async
async def test_screens_match_their_snapshots(library: Any, size: tuple[int, int]) -> None:
    """The sections, a section's stories and an article, as SVG screenshots compared with
    tests/read/snapshots/ (AGGREGATOR_UPDATE_SNAPSHOTS=1 writes them anew; look at them
    in a browser before committing)."""
    import os

    lib, _, _ = library
    app = BrowseApp(lib)
    screens = {}
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        screens["sections"] = app.export_screenshot(title="sections")
        await pilot.press("enter")
        await pilot.pause()
        screens["stories"] = app.export_screenshot(title="stories")
        await pilot.press("enter")
        await pilot.pause()
        screens["article"] = app.export_screenshot(title="article")
    for name, svg in screens.items():
        path = SNAPSHOTS / f"browse-{name}-{size[0]}x{size[1]}.svg"
        if os.environ.get("AGGREGATOR_UPDATE_SNAPSHOTS") == "1":
            path.parent.mkdir(exist_ok=True)
            path.write_text(svg, encoding="utf-8")
        assert path.exists(), f"no snapshot {path.name}: run with AGGREGATOR_UPDATE_SNAPSHOTS=1"
        assert svg == path.read_text(encoding="utf-8"), f"{path.name} changed"
