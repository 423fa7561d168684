"""The command line as a user runs it: real config files, a real database, loopback HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from pytest_httpserver import HTTPServer

from aggregator.cli import cli
from tests.conftest import CORPUS, REPO_ROOT
from tests.sites import PARAGRAPHS, article_page, items, rss


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def write_config(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _no_env_database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("AGGREGATOR_DATABASE_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))


def test_every_command_has_help_with_an_example() -> None:
    import click

    def commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
        out = []
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                out.extend(commands(command, f"{prefix}{name} "))
            else:
                out.append((f"{prefix}{name}", command))
        return out

    found = commands(cli)
    assert {
        "poll",
        "list",
        "feeds",
        "extract",
        "check-config",
        "db upgrade",
        "stories rebuild",
    } <= {n for n, _ in found}
    for name, command in found:
        assert command.help and "Example: aggregator" in command.help, name
        result = run(*name.split(), "--help")
        assert result.exit_code == 0 and "--config" in result.output, name


def test_check_config_shipped_and_invalid(tmp_path: Path) -> None:
    ok = run("check-config", "--config", str(REPO_ROOT / "config.yaml"))
    assert ok.exit_code == 0 and "config OK" in ok.output and "35 feeds" in ok.output
    bad = write_config(
        tmp_path, {"feeds": [{"url": "https://a.example/"}, {"url": "gopher://x"}], "x": 1}
    )
    result = run("check-config", "--config", str(bad))
    assert result.exit_code == 2
    assert "feeds[1].url: not an http(s) URL" in result.output
    assert "x: unknown key" in result.output
    # --config also works before the command
    assert run("--config", str(bad), "check-config").exit_code == 2
    missing = run("check-config", "--config", str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 2 and "no such file" in missing.output


def test_no_config_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("check-config")
    assert result.exit_code == 2 and "no config file found" in result.output


def test_poll_list_feeds_json(tmp_path: Path, httpserver: HTTPServer) -> None:
    base = httpserver.url_for("").rstrip("/")
    feed_items = items(base, 2)
    httpserver.expect_request("/rss.xml").respond_with_data(
        rss("테스트일보", feed_items), content_type="application/rss+xml"
    )
    for item in feed_items:
        path = "/" + item.link.split("/", 3)[3].split("?")[0]
        httpserver.expect_request(path).respond_with_data(
            article_page(item.title, PARAGRAPHS), content_type="text/html; charset=utf-8"
        )
    httpserver.expect_request("/broken.xml").respond_with_data("nope", status=503)
    config = write_config(
        tmp_path,
        {
            "fetch": {"allow_private_networks": True},
            "extract": {"workers": 1},
            "tags": {"economy": {"keywords": ["수출"]}},
            "feeds": [
                {"url": httpserver.url_for("/rss.xml"), "title": "테스트"},
                {"url": httpserver.url_for("/broken.xml")},
            ],
        },
    )
    result = run("poll", "--config", str(config))
    assert result.exit_code == 1, result.output  # one feed failed
    assert "new=2" in result.output and "HTTP 503" in result.output
    assert (tmp_path / "data" / "aggregator" / "aggregator.db").exists()

    only = run("poll", "--config", str(config), "--feed", httpserver.url_for("/rss.xml"))
    assert only.exit_code == 0 and "new=0" in only.output

    listed = json.loads(run("list", "--config", str(config), "--json").output)
    assert len(listed) == 2
    first = listed[0]
    assert {"id", "feed", "url", "title", "published", "tags", "text"} <= set(first)
    assert first["published"].endswith("+00:00")
    assert "economy" in first["tags"] and PARAGRAPHS[0][:20] in first["text"]
    assert first["text_source"] == "trafilatura"

    table = run("list", "--config", str(config), "--tag", "economy", "--limit", "1")
    # At 80 columns (the runner's width) one line per article, without the source column.
    assert table.exit_code == 0 and "경제정책 방향 확정" in table.output
    assert "trafilatura" not in table.output and len(table.output.splitlines()) == 2

    health = json.loads(run("feeds", "--config", str(config), "--json").output)
    by_url = {h["url"]: h for h in health}
    assert by_url[httpserver.url_for("/rss.xml")]["entries"] == 2
    broken = by_url[httpserver.url_for("/broken.xml")]
    assert broken["status"] == "error" and broken["http_status"] == 503
    assert broken["error_count"] == 2 or broken["error_count"] == 1
    assert run("feeds", "--config", str(config)).exit_code == 0


def test_poll_unknown_feed_is_usage_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"feeds": [{"url": "https://a.example/rss"}]})
    result = run("poll", "--config", str(config), "--feed", "https://b.example/")
    assert result.exit_code == 2 and "not in the configuration" in result.output


def test_db_upgrade_and_outdated_schema(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    config = write_config(tmp_path, {"database": f"sqlite:///{db}", "feeds": []})
    first = run("db", "upgrade", "--config", str(config))
    assert first.exit_code == 0 and "upgraded from empty" in first.output
    assert "up to date" in run("db", "upgrade", "--config", str(config)).output
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM alembic_version")
    refused = run("list", "--config", str(config))
    assert refused.exit_code == 2 and "aggregator db upgrade" in refused.output


def test_extract_file_json(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(article_page("경제정책 방향 확정", PARAGRAPHS), encoding="utf-8")
    result = run("extract", str(page), "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert {"text", "title", "author", "date", "source"} <= set(data)
    assert data["source"] == "trafilatura" and PARAGRAPHS[2][:20] in data["text"]
    plain = run("extract", str(page))
    assert plain.exit_code == 0 and "source: trafilatura" in plain.output
    assert run("extract", str(tmp_path / "missing.html")).exit_code == 2


def test_extract_url_refuses_loopback_by_default(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/p").respond_with_data(article_page("x", PARAGRAPHS))
    config = write_config(tmp_path, {"feeds": []})
    result = run("extract", httpserver.url_for("/p"), "--config", str(config))
    assert result.exit_code == 1 and "loopback" in result.output
    assert httpserver.log == []


@pytest.mark.corpus
def test_extract_real_korean_page(corpus_dir: Path) -> None:
    page = CORPUS / "pages" / "korean" / "fundus__HankookIlbo_2026_01_29.html"
    data = json.loads(run("extract", str(page), "--json").output)
    assert data["source"] in ("script-payload", "trafilatura", "json-ld")
    assert len(data["text"]) > 1000


def test_status_prune_star(tmp_path: Path, httpserver: HTTPServer) -> None:
    base = httpserver.url_for("").rstrip("/")
    feed_items = items(base, 3)
    httpserver.expect_request("/rss.xml").respond_with_data(
        rss("테스트일보", feed_items), content_type="application/rss+xml"
    )
    httpserver.expect_request("/gone.xml").respond_with_data("gone", status=410)
    config = write_config(
        tmp_path,
        {
            "fetch": {"allow_private_networks": True},
            "retention": {"keep_days": 30},
            "feeds": [
                {"url": httpserver.url_for("/rss.xml"), "full_text": False},
                {"url": httpserver.url_for("/gone.xml")},
            ],
        },
    )
    assert run("poll", "--config", str(config)).exit_code == 1
    status = json.loads(run("status", "--config", str(config), "--json").output)
    assert status["daemon_alive"] is False and status["counts"]["articles"] == 3
    [failing] = status["failing_feeds"]
    assert failing["gone"] is True and "410" in failing["last_error"]
    assert failing["next_retry"] is not None
    assert status["database_bytes"] > 0
    text = run("status", "--config", str(config))
    assert "no daemon alive" in text.output and "gone ×1" in text.output

    # The items are two days old and keep_days is 30: nothing to prune (test_retention
    # covers the pruning itself).
    assert "would prune 0 articles" in run("prune", "--config", str(config), "--dry-run").output
    listed = json.loads(run("list", "--config", str(config), "--json").output)
    starred = run("star", "--config", str(config), str(listed[0]["id"]), "999999")
    assert starred.exit_code == 1 and "starred 1 of 2" in starred.output


def test_digest_show_search_read(tmp_path: Path, httpserver: HTTPServer) -> None:
    from datetime import UTC, datetime, timedelta

    base = httpserver.url_for("").rstrip("/")
    feed_items = items(base, 3)
    now = datetime.now(UTC)
    for i, item in enumerate(feed_items):
        item.published = now - timedelta(hours=i + 1)
    feed_items[0].title = "[bold red]서울시, 새 교통 정책 발표[/bold] \x1b]8;;http://evil\x07"
    feed_items[0].description = (
        "(서울=연합뉴스) 홍길동 기자 = 서울시는 26일 새로운 교통 정책을 발표했다. "
        "시는 내년부터 버스 노선을 개편한다."
    )
    httpserver.expect_request("/rss.xml").respond_with_data(
        rss("테스트일보", feed_items), content_type="application/rss+xml"
    )
    config = write_config(
        tmp_path,
        {
            "fetch": {"allow_private_networks": True},
            "tags": {"society": {"labels": {"ko": "사회"}, "keywords": ["교통"]}},
            "feeds": [
                {"url": httpserver.url_for("/rss.xml"), "title": "테스트일보", "full_text": False}
            ],
        },
    )
    assert run("poll", "--config", str(config)).exit_code == 0

    digest = run("digest", "--config", str(config))
    assert digest.exit_code == 0, digest.output
    assert "사회 (1)" in digest.output and "[bold red]서울시" in digest.output
    assert "\x1b" not in digest.output  # piped: plain, and the title's OSC 8 is gone
    assert "서울시는 26일 새로운 교통 정책을 발표했다." in digest.output
    assert "홍길동 기자 =" not in digest.output
    data = json.loads(run("digest", "--config", str(config), "--format", "json").output)
    assert data["schema_version"] == 2 and data["counts"]["society"] == 1
    # --since last: nothing new since the previous digest
    again = json.loads(
        run("digest", "--config", str(config), "--since", "last", "--format", "json").output
    )
    assert sum(s["count"] for s in again["sections"]) == 0
    assert run("digest", "--config", str(config), "--since", "yesterday-ish").exit_code == 2
    assert run("digest", "--config", str(config), "--tag", "nope").exit_code == 2

    found = json.loads(run("search", "--config", str(config), "교통", "--format", "json").output)
    assert len(found) == 1
    assert found[0]["title"].startswith("[bold red]서울시, 새 교통 정책 발표[/bold]")
    assert "\x1b" not in found[0]["title"]
    article_id = found[0]["id"]
    two = json.loads(run("search", "--config", str(config), "정책", "--format", "json").output)
    assert len(two) == 3  # 정책 inside 경제정책 and before a particle
    text = run("search", "--config", str(config), "교통")
    assert text.exit_code == 0 and f"#{article_id}" in text.output
    assert run("search", "--config", str(config), "없는단어").exit_code == 1

    shown = run("show", "--config", str(config), f"#{article_id}")
    assert shown.exit_code == 0 and "버스 노선" in shown.output and "\x1b" not in shown.output
    assert run("show", "--config", str(config), "999999").exit_code == 1
    assert (
        "marked 1 of 1 articles unread"
        in run("unread", "--config", str(config), str(article_id)).output
    )
    assert run("read", "--config", str(config), str(article_id), "424242").exit_code == 1


@pytest.mark.parametrize(
    "args",
    [["digest"], ["search", "정책"], ["show", "1", "--no-pager"], ["list"], ["--help"]],
)
def test_reading_commands_do_not_import_extraction(tmp_path: Path, args: list[str]) -> None:
    """digest, show and search must start fast: no trafilatura, no process pool, and on an
    up-to-date SQLite database no SQLAlchemy either (the plain sqlite3 read path)."""
    import subprocess
    import sys

    config = write_config(tmp_path, {"database": f"sqlite:///{tmp_path}/x.db", "feeds": []})
    assert run("db", "upgrade", "--config", str(config)).exit_code == 0  # Alembic's turn
    # The first reading command validates the file in full (pydantic); later ones read the
    # cached view: the probe is such a later one.
    run("digest", "--config", str(config))
    probe = (
        "import sys\n"
        "from aggregator.cli import cli\n"
        "try:\n"
        f"    cli.main({['--config', str(config), *args]!r}, standalone_mode=False)\n"
        "except BaseException:\n"
        "    pass\n"
        "heavy = [m for m in ('trafilatura', 'pebble', 'aggregator.ingest.extract.article', "
        "'aggregator.ingest.extract.pool', 'alembic', 'feedparser', 'httpx', 'numpy', "
        "'kiwipiepy', 'aggregator.ingest.tag.model', 'aggregator.ingest.stories', 'apscheduler') "
        "if m in sys.modules]\n"
        # Whole packages the reading commands have no use for, whatever module they grow.
        "heavy += [m for m in sys.modules if m.startswith(('aggregator.ingest.', "
        "'aggregator.service.', 'aggregator.export.')) and m != 'aggregator.service.logs']\n"
        f"if {args[0] != 'list'!r}:\n"
        "    heavy += [m for m in ('sqlalchemy', 'pydantic', 'aggregator.config.schema', "
        "'aggregator.store.sql', 'aggregator.store.engine') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr


def test_digest_since_last_and_bad_inputs(tmp_path: Path, httpserver: HTTPServer) -> None:
    from datetime import UTC, datetime, timedelta

    base = httpserver.url_for("").rstrip("/")
    first, late = items(base, 2)
    first.published = datetime.now(UTC) - timedelta(minutes=30)
    httpserver.expect_request("/rss.xml").respond_with_data(
        rss("테스트일보", [first]), content_type="application/rss+xml"
    )
    url = httpserver.url_for("/rss.xml")
    config = write_config(
        tmp_path,
        {"fetch": {"allow_private_networks": True}, "feeds": [{"url": url, "full_text": False}]},
    )
    assert run("poll", "--config", str(config)).exit_code == 0
    seen = json.loads(run("digest", "--config", str(config), "--format", "json").output)
    assert sum(s["count"] for s in seen["sections"]) == 1
    # Published before that digest ran, but fetched only after it: "last" must still show it.
    late.published = datetime.now(UTC) - timedelta(minutes=20)
    httpserver.clear()
    httpserver.expect_request("/rss.xml").respond_with_data(
        rss("테스트일보", [first, late]), content_type="application/rss+xml"
    )
    assert run("poll", "--config", str(config)).exit_code == 0
    since_last = run("digest", "--config", str(config), "--since", " Last ", "--format", "json")
    titles = [st["title"] for s in json.loads(since_last.output)["sections"] for st in s["stories"]]
    assert titles == [late.title]

    assert run("digest", "--config", str(config), "--since", "99999999d").exit_code == 2
    assert run("digest", "--config", str(config), "--feed", url + "nope").exit_code == 2
    assert run("digest", "--config", str(config), "--feed", url).exit_code == 0
    assert run("search", "--config", str(config), "x", "--tag", "nope").exit_code == 2
    assert run("show", "--config", str(config), "99999999999999999999").exit_code == 2
    listed = json.loads(run("list", "--config", str(config), "--json").output)
    twice = run("read", "--config", str(config), str(listed[0]["id"]), str(listed[0]["id"]))
    assert twice.exit_code == 0 and "marked 1 of 1" in twice.output
