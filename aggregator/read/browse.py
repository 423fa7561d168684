"""``aggregator browse``: the interactive reader, on Textual (from the authors of rich).

Three levels, as in newsboat: the digest's tag sections → the stories of one section → an
article's full text. Keys follow newsboat: ``j``/``k`` (and the arrows) move, ``Enter`` opens,
``n`` goes to the next unread story, ``r`` toggles read, ``s`` toggles the star, ``/``
searches (the same Korean search as ``aggregator search``), ``t`` picks a tag, ``o`` opens the
link in a browser, ``q`` goes back (and quits from the sections). The mouse works too: click a
row to open it, scroll the text.

The app reads through :class:`Library`, which the CLI builds over the reading queries (one
SQLite connection in WAL mode, so a running daemon keeps writing) and which marks read and
starred as ``show``, ``read`` and ``star`` do: the state is the digest's (``--since last`` and
the dimmed read stories). Every text from a feed is passed through
:func:`aggregator.text.terminal.clean` and shown as ``rich.text.Text``, never as markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import cache
from typing import Any, ClassVar, TypeVar
from zoneinfo import ZoneInfo

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Header, Input, Label, ListItem, ListView, Static

from aggregator.read.digest import Digest, DigestSection, DigestStory
from aggregator.read.library import Library
from aggregator.store.records.reading import ArticleDetail
from aggregator.text.terminal import clean, clean_line

_ScreenT = TypeVar("_ScreenT", bound=Screen[Any])

__all__ = ["BrowseApp", "Library", "article_text"]

# What the reader says, in Korean for display.language ko (the English is the key): the
# labels of the keys, the counts and the notices, as the digest's headings are.
KOREAN = {
    "(no title)": "(제목 없음)",
    "read": "읽음",
    "unread": "안 읽음",
    ", starred": ", 별표",
    "({} unread)": "(안 읽음 {})",
    "No stories in this period.": "이 기간에 기사가 없습니다.",
    "No unread stories.": "안 읽은 기사가 없습니다.",
    "No unread stories here.": "여기에는 안 읽은 기사가 없습니다.",
    "No more unread stories here.": "여기에는 안 읽은 기사가 더 없습니다.",
    "Article #{} is gone (pruned).": "기사 #{}는 보관 기간이 지나 지워졌습니다.",
    "starred": "별표했습니다",
    "unstarred": "별표를 뺐습니다",
    "No http(s) link to open.": "열 수 있는 http(s) 링크가 없습니다.",
    "No web browser to open the link.": "링크를 열 웹 브라우저가 없습니다.",
    "No match for {}.": "{}: 찾은 기사가 없습니다.",
    "Quit": "종료",
    "Back": "뒤로",
    "Next unread": "다음 안 읽음",
    "Search": "검색",
    "Tag": "태그",
    "Read/unread": "읽음 표시",
    "Star": "별표",
    "Open link": "링크 열기",
    "Cancel": "취소",
}


def say(language: str, text: str, *args: object) -> str:
    """``text`` in the display language, with ``args`` in its ``{}`` places."""
    return (KOREAN.get(text, text) if language == "ko" else text).format(*args)


def _say_on(screen: Screen[Any], text: str, *args: object) -> str:
    app = screen.app
    assert isinstance(app, BrowseApp)
    return app.say(text, *args)


@cache
def localized(screen: type[_ScreenT], language: str) -> type[_ScreenT]:
    """``screen`` with its keys' labels in ``language`` (bindings are class attributes)."""
    if language != "ko":
        return screen
    bindings = [
        replace(b, description=say(language, b.description)) if isinstance(b, Binding) else b
        for b in screen.BINDINGS
    ]
    return type(screen.__name__, (screen,), {"BINDINGS": bindings})


def article_text(
    view: ArticleDetail, labels: dict[str, str], tz: ZoneInfo, language: str = "en"
) -> Text:
    """An article as one inert Text: headline, outlet and time, tags, link, then the text."""
    out = Text()
    out.append(clean_line(view.title) or say(language, "(no title)"), style="bold")
    out.append("\n")
    out.append(clean_line(view.feed_title or view.feed_url), style="cyan")
    if view.author:
        out.append(" · " + clean_line(view.author, 120))
    when = (view.published_at or view.first_seen_at).astimezone(tz)
    out.append(f" · {when:%Y-%m-%d %H:%M %Z}\n", style="green")
    if view.tags:
        out.append(", ".join(clean_line(labels.get(t) or t) for t in view.tags) + "\n", style="dim")
    if view.url:
        out.append(clean_line(view.url) + "\n", style="underline")
    state = say(language, "read" if view.read_at else "unread") + (
        say(language, ", starred") if view.starred else ""
    )
    out.append(f"#{view.id} ({state})\n\n", style="dim")
    body = clean(view.text or view.summary)
    for paragraph in (p.strip() for p in body.split("\n")):
        if paragraph:
            out.append(paragraph + "\n\n")
    return out


class _Row(ListItem):
    def __init__(self, text: Text, value: Any) -> None:
        super().__init__(Label(text))
        self.value = value


def _story_line(story: DigestStory, read: bool) -> Text:
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append("  " if read else "● ", style="yellow")
    line.append(f"{story.local_time:>5} ", style="green")
    line.append(clean_line(story.title), style="dim" if read else "bold")
    line.append(f"  {clean_line(story.feed)}", style="cyan")
    if story.others:
        line.append(f" +{len(story.others)}", style="magenta")
    return line


def _place(view: ListView, index: int) -> None:
    """Put the cursor back where it was once a refilled list is mounted, and focus it."""
    view.index = index
    view.focus()


class _Keys(ListView):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]


class SectionsScreen(Screen[None]):
    """The digest's tag sections with their counts."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "app.quit", "Quit"),
        Binding("n", "next_unread", "Next unread"),
        Binding("slash", "app.search", "Search"),
        Binding("t", "app.pick_tag", "Tag"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield _Keys(id="sections")
        yield Footer()

    def on_screen_resume(self) -> None:
        # Also sent when the screen is first shown: loading here alone reads the digest once.
        self.refresh_sections()

    def refresh_sections(self) -> None:
        app = self.app
        assert isinstance(app, BrowseApp)
        digest = app.reload()
        self.title = clean_line(digest.date_heading)
        view = self.query_one("#sections", ListView)
        index = view.index
        view.clear()
        for section in digest.sections:
            unread = sum(1 for s in section.stories if s.id not in app.read_ids)
            line = Text()
            line.append(f"{clean_line(section.label)}", style="bold")
            line.append(f"  {section.count}", style="cyan")
            if unread:
                line.append("  " + app.say("({} unread)", unread), style="yellow")
            view.append(_Row(line, section))
        if not digest.sections:
            view.append(_Row(Text(app.say("No stories in this period.")), None))
        count = max(1, len(digest.sections))
        self.call_after_refresh(_place, view, min(index or 0, count - 1))

    def on_list_view_selected(self, event: ListView.Selected) -> None:
        if isinstance(event.item, _Row) and isinstance(event.item.value, DigestSection):
            app = self.app
            assert isinstance(app, BrowseApp)
            app.push_screen(app.screen_of(StoriesScreen)(event.item.value))

    def action_next_unread(self) -> None:
        app = self.app
        assert isinstance(app, BrowseApp)
        for section in app.current.sections if app.current else ():
            for story in section.stories:
                if story.id not in app.read_ids:
                    stories = app.screen_of(StoriesScreen)(section)
                    app.push_screen(stories)
                    stories.open_story(story)
                    return
        app.notify(app.say("No unread stories."))


class StoriesScreen(Screen[None]):
    """One section's stories, newest first, unread ones marked."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q,escape", "app.pop_screen", "Back"),
        Binding("n", "next_unread", "Next unread"),
        Binding("r", "toggle_read", "Read/unread"),
        Binding("s", "toggle_star", "Star"),
        Binding("o", "open_link", "Open link"),
        Binding("slash", "app.search", "Search"),
        Binding("t", "app.pick_tag", "Tag"),
    ]

    def __init__(self, section: DigestSection) -> None:
        super().__init__()
        self.section = section

    def compose(self) -> ComposeResult:
        yield Header()
        yield _Keys(id="stories")
        yield Footer()

    def on_mount(self) -> None:
        self.title = clean_line(self.section.label)
        self.refresh_rows()

    def on_screen_resume(self) -> None:
        self.refresh_rows()

    def refresh_rows(self) -> None:
        app = self.app
        assert isinstance(app, BrowseApp)
        view = self.query_one("#stories", ListView)
        index = view.index
        view.clear()
        for story in self.section.stories:
            view.append(_Row(_story_line(story, story.id in app.read_ids), story))
        place = min(index or 0, max(0, len(self.section.stories) - 1))
        self.call_after_refresh(_place, view, place)

    def _selected(self) -> DigestStory | None:
        item = self.query_one("#stories", ListView).highlighted_child
        return item.value if isinstance(item, _Row) else None

    def on_list_view_selected(self, event: ListView.Selected) -> None:
        if isinstance(event.item, _Row) and isinstance(event.item.value, DigestStory):
            self.open_story(event.item.value)

    def open_story(self, story: DigestStory) -> None:
        app = self.app
        assert isinstance(app, BrowseApp)
        app.push_screen(app.screen_of(ArticleScreen)(story.id, self))

    def next_unread_after(self, current: int | None) -> DigestStory | None:
        app = self.app
        assert isinstance(app, BrowseApp)
        ids = [s.id for s in self.section.stories]
        start = ids.index(current) + 1 if current in ids else 0
        for story in [*self.section.stories[start:], *self.section.stories[:start]]:
            if story.id not in app.read_ids and story.id != current:
                return story
        return None

    def action_next_unread(self) -> None:
        story = self.next_unread_after(None)
        if story is None:
            self.notify(_say_on(self, "No unread stories here."))
        else:
            self.open_story(story)

    def action_toggle_read(self) -> None:
        story = self._selected()
        if story is not None:
            app = self.app
            assert isinstance(app, BrowseApp)
            app.set_read(story.id, story.id not in app.read_ids)
            self.refresh_rows()

    def action_toggle_star(self) -> None:
        story = self._selected()
        if story is not None:
            app = self.app
            assert isinstance(app, BrowseApp)
            app.toggle_star(story.id)

    def action_open_link(self) -> None:
        story = self._selected()
        if story is not None:
            app = self.app
            assert isinstance(app, BrowseApp)
            app.open_link(story.url)


class ArticleScreen(Screen[None]):
    """One article's full text; opening it marks it read."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q,escape", "app.pop_screen", "Back"),
        Binding("j", "scroll(1)", "Down", show=False),
        Binding("k", "scroll(-1)", "Up", show=False),
        Binding("n", "next_unread", "Next unread"),
        Binding("r", "toggle_read", "Read/unread"),
        Binding("s", "toggle_star", "Star"),
        Binding("o", "open_link", "Open link"),
    ]

    def __init__(self, article_id: int, stories: StoriesScreen | None = None) -> None:
        super().__init__()
        self.article_id = article_id
        self.stories = stories
        self.view: ArticleDetail | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="text"):
            yield Static(id="body")
        yield Footer()

    def on_mount(self) -> None:
        app = self.app
        assert isinstance(app, BrowseApp)
        app.set_read(self.article_id, True)
        self.show()

    def show(self) -> None:
        app = self.app
        assert isinstance(app, BrowseApp)
        self.view = app.library.article(self.article_id)
        body = self.query_one("#body", Static)
        if self.view is None:
            body.update(Text(_say_on(self, "Article #{} is gone (pruned).", self.article_id)))
            return
        self.title = clean_line(self.view.title, 60)
        body.update(
            article_text(
                self.view, app.library.tag_labels, app.library.timezone, app.library.language
            )
        )
        self.query_one("#text", VerticalScroll).focus()

    def action_scroll(self, lines: int) -> None:
        self.query_one("#text", VerticalScroll).scroll_relative(y=lines, animate=False)

    def action_next_unread(self) -> None:
        story = self.stories.next_unread_after(self.article_id) if self.stories else None
        if story is None:
            self.notify(_say_on(self, "No more unread stories here."))
            return
        app = self.app
        assert isinstance(app, BrowseApp)
        self.article_id = story.id
        app.set_read(story.id, True)
        self.show()

    def action_toggle_read(self) -> None:
        app = self.app
        assert isinstance(app, BrowseApp)
        app.set_read(self.article_id, self.article_id not in app.read_ids)
        self.show()

    def action_toggle_star(self) -> None:
        app = self.app
        assert isinstance(app, BrowseApp)
        app.toggle_star(self.article_id)
        self.show()

    def action_open_link(self) -> None:
        app = self.app
        assert isinstance(app, BrowseApp)
        app.open_link(self.view.url if self.view else None)


class SearchScreen(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def compose(self) -> ComposeResult:
        yield Input(placeholder="검색 / search", id="query")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)


class TagScreen(ModalScreen[DigestSection | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "dismiss(None)", "Cancel")]

    def __init__(self, sections: Sequence[DigestSection]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        yield _Keys(
            *[_Row(Text(f"{clean_line(s.label)}  {s.count}"), s) for s in self.sections],
            id="tags",
        )

    def on_list_view_selected(self, event: ListView.Selected) -> None:
        if isinstance(event.item, _Row):
            self.dismiss(event.item.value)


class BrowseApp(App[None]):
    TITLE = "aggregator"
    # Its entries are Textual's own, in English; the keys in the footer are the reader's menu.
    ENABLE_COMMAND_PALETTE = False

    def __init__(self, library: Library, first: Digest | None = None) -> None:
        """``first``: the digest for the first screen, when the caller already has it."""
        super().__init__()
        self.library = library
        self.read_ids: set[int] = set()
        self.current: Digest | None = None
        self._first = first

    def on_mount(self) -> None:
        self.push_screen(self.screen_of(SectionsScreen)())

    def say(self, text: str, *args: object) -> str:
        return say(self.library.language, text, *args)

    def screen_of(self, screen: type[_ScreenT]) -> type[_ScreenT]:
        """``screen`` with its keys labelled in the display language."""
        return localized(screen, self.library.language)

    def reload(self) -> Digest:
        """The digest again: a running daemon may have stored more since."""
        first, self._first = self._first, None
        self.current = first if first is not None else self.library.digest()
        self.read_ids = {s.id for sec in self.current.sections for s in sec.stories if s.read}
        return self.current

    def set_read(self, article_id: int, read: bool) -> None:
        self.library.mark_read([article_id], read)
        (self.read_ids.add if read else self.read_ids.discard)(article_id)

    def toggle_star(self, article_id: int) -> None:
        view = self.library.article(article_id)
        if view is None:
            return
        self.library.set_starred([article_id], not view.starred)
        self.notify(self.say("starred" if not view.starred else "unstarred"))

    def open_link(self, url: str | None) -> None:
        from aggregator.text.urls import is_http_url

        # Feed links are untrusted: only http(s) goes to the browser, never a shell.
        if not url or not is_http_url(url):
            self.notify(self.say("No http(s) link to open."), severity="warning")
        elif not self.library.open_link(url):
            self.notify(self.say("No web browser to open the link."), severity="warning")

    def action_search(self) -> None:
        def searched(query: str | None) -> None:
            if not query:
                return
            try:
                hits = self.library.search(query)
            except Exception as exc:  # a query with nothing to search for
                self.notify(clean_line(str(exc)), severity="warning")
                return
            if not hits:
                self.notify(self.say("No match for {}.", clean_line(query)))
                return
            stories = tuple(
                DigestStory(
                    id=h.article_id,
                    title=h.title,
                    feed=h.feed_title or "",
                    url=h.url,
                    published=h.published_at,
                    local_time=f"{h.published_at:%m-%d}",
                    lead=h.snippet,
                    tags=(),
                    read=h.article_id in self.read_ids,
                )
                for h in hits
            )
            section = DigestSection(None, f"/ {clean_line(query)}", len(hits), stories)
            self.push_screen(self.screen_of(StoriesScreen)(section))

        self.push_screen(self.screen_of(SearchScreen)(), searched)

    def action_pick_tag(self) -> None:
        if self.current is None:
            return

        def picked(section: DigestSection | None) -> None:
            if section is not None:
                self.push_screen(self.screen_of(StoriesScreen)(section))

        self.push_screen(self.screen_of(TagScreen)(self.current.sections), picked)
