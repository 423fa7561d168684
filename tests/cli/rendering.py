"""Rendering what the CLI's pure functions return, the way the commands print it."""

from __future__ import annotations

import io

from rich.console import Console, RenderableType
from rich.text import Text

from aggregator.read.render import make_console


def plain(*renderables: RenderableType, width: int = 80, markup: bool = False) -> str:
    """The text a pipe would receive (no styles), each renderable printed on its own: on
    the reading commands' console, or with ``markup`` on one like the other commands'
    (:func:`aggregator.cli.common.make_plain_console`, which reads str as markup)."""
    buffer = io.StringIO()
    console = (
        Console(file=buffer, width=width, color_system=None, highlight=False, soft_wrap=False)
        if markup
        else make_console(file=buffer, width=width)
    )
    for renderable in renderables:
        console.print(renderable)
    return buffer.getvalue()


def styled(text: Text) -> list[tuple[str, str]]:
    """Each styled stretch of ``text`` with its style, in order: what a terminal colours."""
    spans = [(text.plain[s.start : s.end], str(s.style)) for s in text.spans]
    if text.style:
        spans.insert(0, (text.plain, str(text.style)))
    return spans


def styled_segments(renderable: RenderableType, width: int = 80) -> list[tuple[str, str]]:
    """The styled stretches of a rendered renderable (padding and plain text left out)."""
    console = make_console(file=io.StringIO(), width=width)
    return [
        (segment.text, str(segment.style))
        for line in console.render_lines(renderable, console.options, pad=False)
        for segment in line
        if segment.style and segment.text.strip()
    ]
