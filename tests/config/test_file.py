"""The config file's reading view and its cache: validated in full once per file content,
never cached when invalid, environment overrides applied at use."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from aggregator.config.file import (
    DATABASE_ENV,
    ReadingConfig,
    feed_identity,
    load_reading_config,
    read_config_file,
)
from aggregator.config.schema import Config, parse_config_text
from aggregator.errors import ConfigError

CONFIG = """\
database: sqlite:///news.db
display: {timezone: Asia/Seoul}
tags:
  politics: {labels: {ko: 정치, en: Politics}}
  economy: {labels: {en: Economy}}
  misc: {}
feeds:
  - url: https://www.yna.co.kr/rss/news.xml
"""


class Counting:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, chosen: Path, text: str) -> Config:
        self.calls += 1
        return parse_config_text(chosen, text)


def test_view_has_what_the_reading_commands_need(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    view = load_reading_config(path, Counting(), tmp_path / "cache")
    assert view.tag_labels == (("politics", "정치"), ("economy", "Economy"), ("misc", "misc"))
    assert view.tags == ["politics", "economy", "misc"]
    assert view.timezone == "Asia/Seoul" and view.source == str(path)
    assert view.database_url({}) == "sqlite:///news.db"
    assert view.database_url({DATABASE_ENV: "sqlite:///env.db"}) == "sqlite:///env.db"
    assert view.feed("HTTPS://www.yna.co.kr/rss/news.xml/") == "https://www.yna.co.kr/rss/news.xml"
    assert view.feed("https://example.com/rss") is None


def test_cached_after_one_validation_and_revalidated_on_change(tmp_path: Path) -> None:
    path, cache = tmp_path / "config.yaml", tmp_path / "cache"
    path.write_text(CONFIG, encoding="utf-8")
    validate = Counting()
    first = load_reading_config(path, validate, cache)
    assert load_reading_config(path, validate, cache) == first
    assert validate.calls == 1 and len(list(cache.glob("*.json"))) == 1
    path.write_text(CONFIG.replace("Asia/Seoul", "UTC"), encoding="utf-8")
    assert load_reading_config(path, validate, cache).timezone == "UTC"
    assert validate.calls == 2


def test_invalid_file_is_never_cached(tmp_path: Path) -> None:
    path, cache = tmp_path / "config.yaml", tmp_path / "cache"
    path.write_text(CONFIG.replace("Asia/Seoul", "Mars/Base"), encoding="utf-8")
    validate = Counting()
    for _ in range(2):
        with pytest.raises(ConfigError, match=r"display\.timezone"):
            load_reading_config(path, validate, cache)
    assert validate.calls == 2 and not list(cache.glob("*.json"))


def test_broken_or_foreign_cache_entries_are_ignored(tmp_path: Path) -> None:
    path, cache = tmp_path / "config.yaml", tmp_path / "cache"
    path.write_text(CONFIG, encoding="utf-8")
    validate = Counting()
    load_reading_config(path, validate, cache)
    [entry] = cache.glob("*.json")
    for junk in ("{not json", json.dumps({"format": 999}), json.dumps([1, 2])):
        entry.write_text(junk, encoding="utf-8")
        assert load_reading_config(path, validate, cache).timezone == "Asia/Seoul"
    assert validate.calls == 4


def test_unwritable_cache_only_costs_time(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    validate = Counting()
    for _ in range(2):
        assert load_reading_config(path, validate, blocker / "cache").tags[0] == "politics"
    assert validate.calls == 2


def test_json_round_trip_and_missing_file(tmp_path: Path) -> None:
    view = ReadingConfig("c.yaml", None, "UTC", "json", (("a", "에이"),), ("https://x/rss",))
    assert ReadingConfig.from_json(json.loads(json.dumps(view.to_json()))) == view
    with pytest.raises(ConfigError, match="no such file"):
        read_config_file(tmp_path / "absent.yaml")
    assert feed_identity(" https://Example.com/rss/?utm_source=x ") == "https://example.com/rss"


def test_cache_directory_is_private(tmp_path: Path) -> None:
    path, cache = tmp_path / "config.yaml", tmp_path / "cache"
    path.write_text(CONFIG, encoding="utf-8")
    cache.mkdir(mode=0o777)
    cache.chmod(0o777)
    load_reading_config(path, Counting(), cache)
    assert cache.stat().st_mode & 0o777 == 0o700


def test_the_cache_key_stamps_the_schema_source() -> None:
    import aggregator.config.schema as schema
    from aggregator.config import file

    sources = file.validator_sources()
    assert Path(schema.__file__).resolve() in [s.resolve() for s in sources]
    assert all(source.is_file() for source in sources)


def test_the_cache_key_changes_when_a_validating_source_changes(tmp_path: Path) -> None:
    from aggregator.config.file import _cache_key

    config = tmp_path / "config.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    source = tmp_path / "schema.py"
    source.write_text("# the schema\n", encoding="utf-8")
    before = _cache_key(config, CONFIG, [source])
    assert _cache_key(config, CONFIG, [source]) == before
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert _cache_key(config, CONFIG, [source]) != before


def test_an_edited_schema_revalidates_a_cached_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aggregator.config import file

    path = tmp_path / "config.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    schema = tmp_path / "schema.py"
    schema.write_text("# v1\n", encoding="utf-8")
    monkeypatch.setattr(file, "validator_sources", lambda: [schema])
    validate = Counting()
    cache = tmp_path / "cache"
    load_reading_config(path, validate, cache)
    load_reading_config(path, validate, cache)
    assert validate.calls == 1
    stat = schema.stat()
    os.utime(schema, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    load_reading_config(path, validate, cache)
    assert validate.calls == 2
