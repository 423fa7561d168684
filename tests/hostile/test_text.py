"""The hostile-input catalogue, text: every C0 and C1 control, DEL, terminal escape sequences
(CSI colours, OSC 8 hyperlinks, OSC 52 clipboard writes, DCS) and bidi controls, in every
field a feed carries (feed title, item title, summary, body, author, category), through every
command that prints feed data and every export. Polled for real over loopback from a JSON
Feed (JSON can carry every code point) and an RSS feed (numeric references and raw bytes).

Terminal output carries none of them. ``--json`` output keeps every character but writes the
dangerous ones as ``\\uXXXX`` escapes, so that printing it is harmless and parsing it gives the
data back. Exports are well-formed XML and JSON without control characters."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_httpserver import HTTPServer

from tests.clirun import run

pytestmark = pytest.mark.usefixtures("isolated_cli_env")

C0 = "".join(chr(c) for c in range(32) if chr(c) not in "\t\n\r")
C1 = "".join(chr(c) for c in range(0x80, 0xA0))
ESCAPES = (
    "\x1b[2J\x1b[31mRED\x1b[0m"
    "\x1b]8;;https://evil.test/\x07link\x1b]8;;\x07"
    "\x1b]52;c;ZXZpbA==\x07"
    "\x1bP+q544e\x1b\\"
    "\x9b31m"
)
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
HOSTILE = C0 + "\x7f" + C1 + ESCAPES + BIDI
# What must never reach a terminal raw.
DANGEROUS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u061c]")


def hostile(word: str) -> str:
    return f"위험한 {word} {HOSTILE} 끝"


def json_feed(base: str) -> bytes:
    item = {
        "id": "j1",
        "url": "https://bad.test/a/1",
        "title": hostile("제목"),
        "summary": hostile("요약"),
        "content_text": " ".join(hostile("본문") for _ in range(5)),
        "tags": [hostile("정치")],
        "authors": [{"name": hostile("기자")}],
        "date_published": "2026-12-01T09:00:00+09:00",
    }
    return json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": hostile("피드"),
            "home_page_url": "https://bad.test/",
            "feed_url": f"{base}/feed.json",
            "items": [item],
        }
    ).encode()


def _references(text: str) -> str:
    return "".join(f"&#x{ord(c):x};" if ord(c) < 32 or 0x7F <= ord(c) < 0xA0 else c for c in text)


def rss_feed() -> bytes:
    title = _references(hostile("알림"))
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>https://rss.test/</link>"
        f"<item><title>{title}</title><link>https://rss.test/a/1</link><guid>r1</guid>"
        f"<description>{title}</description><category>{title}</category>"
        f"<author>{title}</author><pubDate>Tue, 01 Dec 2026 09:00:00 +0900</pubDate></item>"
        "</channel></rss>"
    ).encode("utf-8", "surrogatepass")


@pytest.fixture
def config(tmp_path: Path, httpserver: HTTPServer) -> Path:
    base = httpserver.url_for("").rstrip("/")
    httpserver.expect_request("/feed.json").respond_with_data(
        json_feed(base), content_type="application/feed+json"
    )
    httpserver.expect_request("/rss.xml").respond_with_data(
        rss_feed(), content_type="application/rss+xml"
    )
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "database": f"sqlite:///{tmp_path}/t.db",
                "fetch": {"allow_private_networks": True},
                "extract": {"workers": 1},
                "feeds": [
                    {"url": f"{base}/feed.json", "full_text": False},
                    {"url": f"{base}/rss.xml", "full_text": False},
                ],
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    polled = run("poll", "--config", str(path))
    assert polled.exit_code == 0, polled.output
    assert not DANGEROUS.search(polled.output), polled.output
    return path


def _ids(config: Path) -> list[str]:
    rows = json.loads(run("list", "--config", str(config), "--json").stdout)
    assert len(rows) == 2, rows
    return [str(row["id"]) for row in rows]


TERMINAL_COMMANDS = [
    ["list"],
    ["digest", "--since", "30d"],
    ["digest", "--since", "30d", "--format", "markdown"],
    ["search", "위험한"],
    ["feeds"],
    ["status"],
    ["check-config"],
    ["show", "{id}"],
    ["tags", "explain", "{id}"],
]
JSON_COMMANDS = [
    ["list", "--json"],
    ["digest", "--since", "30d", "--format", "json"],
    ["search", "위험한", "--format", "json"],
    ["feeds", "--json"],
    ["status", "--json"],
]


def _invoke(command: list[str], config: Path, article: str) -> Any:
    args = [part.replace("{id}", article) for part in command]
    # Options after the subcommand's own arguments: --config belongs to the command.
    depth = 2 if args[0] == "tags" else 1
    return run(*args[:depth], "--config", str(config), *args[depth:])


@pytest.mark.parametrize("command", TERMINAL_COMMANDS, ids=" ".join)
def test_terminal_output_carries_no_control_escape_or_bidi_character(
    config: Path, command: list[str]
) -> None:
    for article in _ids(config):
        result = _invoke(command, config, article)
        assert result.exit_code == 0, result.output
        found = sorted({f"U+{ord(c):04X}" for c in DANGEROUS.findall(result.output)})
        assert found == [], (command, found)
        assert "위험한" in result.output or command[0] in ("status", "check-config"), result.output


@pytest.mark.parametrize("command", JSON_COMMANDS, ids=" ".join)
def test_json_output_is_inert_and_loses_nothing(config: Path, command: list[str]) -> None:
    result = _invoke(command, config, "")
    assert result.exit_code == 0, result.output
    found = sorted({f"U+{ord(c):04X}" for c in DANGEROUS.findall(result.output)})
    assert found == [], (command, found)
    document = json.loads(result.stdout)
    if command[0] == "list":
        # Whatever the store keeps of a title reaches a program reading the JSON whole.
        titles = {row["title"] for row in document}
        assert all(title.startswith("위험한") and title.endswith("끝") for title in titles)


@pytest.mark.parametrize("kind", ["atom", "rss"])
def test_xml_exports_are_well_formed_without_controls(config: Path, kind: str) -> None:
    result = run("export", kind, "--config", str(config))
    assert result.exit_code == 0, result.output
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", result.stdout)
    root = ET.fromstring(result.stdout.encode())
    assert "위험한" in "".join(root.itertext())


def test_json_feed_export_has_no_controls(config: Path) -> None:
    result = run("export", "json", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", result.stdout)
    document = json.loads(result.stdout)
    assert len(document["items"]) == 2
    for item in document["items"]:
        assert not DANGEROUS.search(item["title"]), item["title"]


def test_opml_export_is_well_formed_without_controls(config: Path) -> None:
    result = run("export", "opml", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert not DANGEROUS.search(result.stdout)
    ET.fromstring(result.stdout.encode())
