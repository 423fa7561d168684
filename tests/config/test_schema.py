from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.config.schema import (
    DATABASE_ENV,
    default_database_url,
    load_config,
    parse_config,
    parse_config_text,
)
from aggregator.errors import ConfigError
from tests.conftest import REPO_ROOT


def problems_of(data: object) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    return info.value.problems


def test_shipped_config_is_valid() -> None:
    config = load_config(REPO_ROOT / "config.yaml")
    assert len(config.feeds) >= 20
    assert {"politics", "north-korea", "economy", "sports"} <= set(config.tags)
    assert config.fetch.allow_private_networks is False
    urls = [f.url for f in config.feeds]
    assert len(urls) == len(set(urls))
    assert any("yna.co.kr" in u for u in urls)
    assert any(f.language == "en" for f in config.feeds)


def test_defaults() -> None:
    config = parse_config({"feeds": [{"url": "https://example.com/rss"}]})
    feed = config.feeds[0]
    assert feed.full_text is True and feed.tags == () and feed.enabled
    assert config.fetch.allow_private_networks is False
    assert config.display.timezone == "Asia/Seoul"


def test_error_names_key_path() -> None:
    problems = problems_of(
        {"feeds": [{"url": "https://ok.example/rss"}, {"url": "ftp://x"}, {"url": "nope"}]}
    )
    assert "feeds[1].url: not an http(s) URL" in problems
    assert "feeds[2].url: not an http(s) URL" in problems


def test_unknown_keys_and_wrong_types() -> None:
    problems = problems_of(
        {
            "fetch": {"allow_private_networks": "perhaps", "timeoutt": 3},
            "feeds": [{"url": "https://a.example/", "ful_text": True}],
        }
    )
    assert any(p.startswith("fetch.allow_private_networks:") for p in problems)
    assert "fetch.timeoutt: unknown key" in problems
    assert "feeds[0].ful_text: unknown key" in problems


def test_missing_url_and_unknown_tag_and_duplicates() -> None:
    assert "feeds[0].url: required key is missing" in problems_of({"feeds": [{"title": "x"}]})
    problems = problems_of(
        {
            "tags": {"politics": {}},
            "feeds": [
                {"url": "https://a.example/rss", "tags": ["politics", "sprots"]},
                {"url": "https://a.example/rss/"},
            ],
        }
    )
    assert "feeds[0].tags[1]: unknown tag 'sprots' (define it under tags)" in problems
    assert "feeds[1].url: duplicate of feeds[0].url" in problems


def test_bad_tag_name_timezone_database() -> None:
    assert any(p.startswith("tags:") for p in problems_of({"tags": {"Bad Name": {}}}))
    assert any(
        p.startswith("display.timezone: unknown time zone")
        for p in problems_of({"display": {"timezone": "Mars/Base"}})
    )
    assert any(p.startswith("database:") for p in problems_of({"database": "::nope::"}))
    assert any(
        "unsupported database 'mysql'" in p for p in problems_of({"database": "mysql://h/x"})
    )
    for good in ("sqlite:///rel.db", "sqlite:////abs.db", "postgresql+psycopg://u@h:5432/d"):
        assert parse_config({"database": good}).database == good


def test_top_level_must_be_mapping() -> None:
    assert problems_of(["a"])[0].startswith("(top level)")


def test_database_url_precedence(tmp_path: Path) -> None:
    config = parse_config({"database": "sqlite:///from-file.db"})
    assert config.database_url({}) == "sqlite:///from-file.db"
    assert config.database_url({DATABASE_ENV: "sqlite:///env.db"}) == "sqlite:///env.db"
    bare = parse_config({})
    assert bare.database_url({"XDG_DATA_HOME": str(tmp_path)}) == (
        f"sqlite:///{tmp_path}/aggregator/aggregator.db"
    )
    assert default_database_url({"XDG_DATA_HOME": "/x"}) == "sqlite:////x/aggregator/aggregator.db"


def test_load_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("feeds: [\n  {url: x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"not valid YAML \(line"):
        load_config(broken)


def test_cross_checks_are_reported_with_field_errors() -> None:
    problems = problems_of(
        {
            "tags": {"politics": {}},
            "feeds": [{"url": "nope"}, {"url": "https://a.example/x", "tags": ["unknown"]}],
        }
    )
    assert "feeds[0].url: not an http(s) URL" in problems
    assert "feeds[1].tags[0]: unknown tag 'unknown' (define it under tags)" in problems


def test_duplicate_feeds_after_canonicalization_only() -> None:
    # Paths are case-sensitive: /x and /X are two feeds.
    parse_config({"feeds": [{"url": "https://a.example/x"}, {"url": "https://a.example/X"}]})
    problems = problems_of(
        {
            "feeds": [
                {"url": "https://A.example/rss/?utm_source=x"},
                {"url": "https://a.example/rss"},
            ]
        }
    )
    assert "feeds[1].url: duplicate of feeds[0].url" in problems


def test_a_config_without_tags_gets_the_built_in_ones() -> None:
    """A minimal config (feeds only) stored every article untagged: digest, exports and
    the / page filed everything under "Other" although the model knew the topics."""
    from aggregator.config.schema import default_tags

    config = parse_config({"feeds": [{"url": "https://a.test/rss"}]})
    assert list(config.tags) == [
        "politics",
        "north-korea",
        "economy",
        "society",
        "world",
        "it-science",
        "culture",
        "entertainment",
        "sports",
    ]
    assert config.tags == default_tags()
    assert parse_config({"feeds": [], "tags": {}}).tags == {}, "tags: {} means none"


def test_the_shipped_config_s_tags_are_the_built_in_ones() -> None:
    """config.yaml ships the built-in tags to edit: the two copies must not drift."""
    shipped = parse_config_text(REPO_ROOT / "config.yaml", (REPO_ROOT / "config.yaml").read_text())
    assert shipped.tags == parse_config({"feeds": []}).tags


def test_feeds_may_name_the_built_in_tags_without_defining_them() -> None:
    config = parse_config({"feeds": [{"url": "https://a.test/rss", "tags": ["sports"]}]})
    assert config.feeds[0].tags == ("sports",)
    with pytest.raises(ConfigError, match="unknown tag 'sports'"):
        parse_config({"tags": {}, "feeds": [{"url": "https://a.test/rss", "tags": ["sports"]}]})
