"""The hostile-input catalogue, config and OPML: values of the wrong type, shape or size in
config.yaml, through every command that reads it (a clear line naming the key, exit status 2,
no traceback, nothing created), and hostile OPML files through ``import opml`` (refused or
filtered with the reason, the config file untouched when refused). The 10,000-feed import is
in test_feeds.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.clirun import run

pytestmark = pytest.mark.usefixtures("isolated_cli_env")

GOOD_FEED = "  - url: https://news.test/rss\n"
BAD_CONFIGS = {
    "feeds is a string": ("feeds: https://news.test/rss\n", "feeds"),
    "a feed URL is a number": ("feeds:\n  - url: 12345\n", "feeds[0].url"),
    "a feed URL with a bad IDNA host": ("feeds:\n  - url: http://xn--a-.example/rss\n", "url"),
    "a feed URL with a space": ("feeds:\n  - url: 'http://news .test/rss'\n", "url"),
    "a feed URL with a control character": ('feeds:\n  - url: "http://news.test/\\x01"\n', "url"),
    "a javascript: feed URL": ("feeds:\n  - url: 'javascript:alert(1)'\n", "url"),
    "a timeout that is text": (f"fetch:\n  timeout: soon\nfeeds:\n{GOOD_FEED}", "fetch.timeout"),
    "a negative interval": (
        f"schedule:\n  min_interval: -5m\nfeeds:\n{GOOD_FEED}",
        "schedule.min_interval",
    ),
    "a list where a mapping goes": (f"tags: [politics]\nfeeds:\n{GOOD_FEED}", "tags"),
    "a boolean where a number goes": (
        f"limits:\n  title: true\nfeeds:\n{GOOD_FEED}",
        "limits.title",
    ),
    "a huge number": (
        f"fetch:\n  concurrency: 100000000000000000000\nfeeds:\n{GOOD_FEED}",
        "fetch.concurrency",
    ),
    "an unknown key": (f"fetch:\n  speed: 11\nfeeds:\n{GOOD_FEED}", "fetch.speed"),
    "not a mapping at all": ("-- just\n- a list\n", "mapping"),
    "YAML that does not parse": ("feeds: [\n", "YAML"),
    "a YAML alias bomb": (
        "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n"
            for i in range(8)
        )
        + f"feeds:\n{GOOD_FEED}",
        "",
    ),
}


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
@pytest.mark.parametrize("command", [["check-config"], ["poll"], ["list"], ["digest"]], ids=str)
def test_a_bad_config_is_a_clear_error_in_every_command(
    tmp_path: Path, case: str, command: list[str]
) -> None:
    text, named = BAD_CONFIGS[case]
    config = tmp_path / "config.yaml"
    if text.startswith("--"):  # the whole file
        config.write_text(text[2:], encoding="utf-8")
    else:
        config.write_text(f"database: sqlite:///{tmp_path}/t.db\n" + text, encoding="utf-8")
    result = run(*command, "--config", str(config))
    assert result.exit_code == 2, (case, result.output)
    assert "Traceback" not in result.output
    assert named in result.output, (case, result.output)
    assert len(result.output) < 4000, "one line per problem, not a dump"
    assert not (tmp_path / "t.db").exists(), "nothing is created from a bad config"


CONFIG = "database: sqlite:///{db}\nfeeds:\n  - url: https://kept.test/rss\n"
LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa">'
    + "".join(
        f'<!ENTITY {c} "{("&" + p + ";") * 10}">' for p, c in zip("abcdefg", "bcdefgh", strict=True)
    )
    + ']><opml version="2.0"><body><outline text="&h;" xmlUrl="https://x.test/rss"/>'
    "</body></opml>"
)
HOSTILE_OPML = {
    "billion laughs": (LAUGHS, "refusing this OPML file"),
    "an external entity": (
        '<?xml version="1.0"?><!DOCTYPE o [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<opml version="2.0"><body><outline text="&x;" xmlUrl="https://x.test/rss"/>'
        "</body></opml>",
        "refusing this OPML file",
    ),
    "not XML": ("this is not xml at all <<<", "OPML"),
    "HTML instead": ("<html><body>hello</body></html>", "OPML"),
}


@pytest.mark.parametrize("case", list(HOSTILE_OPML))
def test_a_hostile_opml_file_is_refused_and_the_config_untouched(tmp_path: Path, case: str) -> None:
    body, said = HOSTILE_OPML[case]
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(db=tmp_path / "t.db"), encoding="utf-8")
    before = config.read_bytes()
    opml = tmp_path / "in.opml"
    opml.write_text(body, encoding="utf-8")
    result = run("import", "opml", str(opml), "--config", str(config))
    assert result.exit_code in (1, 2), result.output
    assert said in result.output and "Traceback" not in result.output, result.output
    assert "root:" not in result.output
    assert config.read_bytes() == before


def test_bad_urls_in_an_opml_file_are_skipped_with_the_reason(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(db=tmp_path / "t.db"), encoding="utf-8")
    opml = tmp_path / "in.opml"
    outlines = [
        ("bad idna", "http://xn--a-.example/rss"),
        ("script", "javascript:alert(1)"),
        ("space", "http://news .test/rss"),
        ("control", "http://news.test/&#x7f;rss"),
        ("file", "file:///etc/passwd"),
        ("fine", "https://fine.test/rss"),
    ]
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><body>'
        + "".join(f'<outline type="rss" text="{t}" xmlUrl="{u}"/>' for t, u in outlines)
        + "</body></opml>",
        encoding="utf-8",
    )
    result = run("import", "opml", str(opml), "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "added 1 feed" in result.output, result.output
    text = config.read_text(encoding="utf-8")
    assert "https://fine.test/rss" in text
    for _, url in outlines[:-1]:
        assert url.replace("&#x7f;", "\x7f") not in text
    checked = run("check-config", "--config", str(config))
    assert checked.exit_code == 0, checked.output
