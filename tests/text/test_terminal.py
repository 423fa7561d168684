from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.text import Text

from aggregator.text.terminal import clean, clean_line

HOSTILE = [
    "[bold red]빨간 제목[/bold red]",
    "[link=http://evil.example]click[/link]",
    "unbalanced [/bold] closing tag",
    "clear\x1b[2Jscreen\x1b[31mred",
    "osc8 \x1b]8;;https://evil.example\x07link\x1b]8;;\x07 end",
    "clipboard \x1b]52;c;ZXZpbA==\x07 write",
    "c1 \x9b31m csi and \x85 nel",
    "bidi \u202eevil\u202c and \u2066isolate\u2069",
    "bell\x07 backspace\x08 null\x00",
]


@pytest.mark.parametrize("title", HOSTILE)
def test_clean_leaves_no_control_or_escape(title: str) -> None:
    out = clean(title)
    assert not any(ord(c) < 0x20 and c not in "\n\t" for c in out)
    assert not any(0x7F <= ord(c) <= 0x9F for c in out)
    assert not any(c in out for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    assert "evil.example\x07" not in out


@pytest.mark.parametrize("title", HOSTILE)
def test_rendered_through_text_is_inert(title: str) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=80, force_terminal=True, color_system="truecolor")
    console.print(Text(clean_line(title)))
    rendered = buffer.getvalue()
    assert "\x1b]8" not in rendered  # no hyperlink was created
    assert "\x1b[2J" not in rendered
    if "[" in title and "\x1b" not in title:
        assert "[" in rendered  # markup printed literally, never interpreted


def test_clean_line_collapses_and_shortens() -> None:
    assert clean_line("  서울시는\n\n오늘  ") == "서울시는 오늘"
    assert clean_line("가나다라마바사", 4) == "가나다…"
    assert clean("그대로 둔다.\n두 번째 줄") == "그대로 둔다.\n두 번째 줄"
