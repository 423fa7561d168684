"""``aggregator tags explain | retag | eval`` on databases built by ``aggregator poll``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_httpserver import HTTPServer

from aggregator.config.schema import parse_config
from aggregator.ingest.tag.evaluate import predict_label
from aggregator.ingest.tag.loader import open_tagger
from aggregator.models import TagAssignment
from aggregator.service.upkeep import retag
from aggregator.store.sql import SqlStore
from tests.clirun import run
from tests.sites import Item, rss

pytestmark = pytest.mark.usefixtures("isolated_cli_env")


TAGS: dict[str, Any] = {
    "politics": {"labels": {"ko": "정치", "en": "Politics"}, "aliases": ["정치"]},
    "north-korea": {"labels": {"ko": "북한"}, "morph": ["北"], "keywords": ["북한"]},
    "economy": {"labels": {"ko": "경제"}, "keywords": ["코스피"]},
    "sports": {"labels": {"ko": "스포츠"}},
    "world": {"labels": {"ko": "세계"}},
}
TITLES = [
    ("손흥민 멀티골…토트넘 3연승 질주", ()),
    ('北, 동해상으로 탄도미사일 발사…합참 "추가 도발 감시"', ("정치",)),
    ("코스피 외국인 순매수에 2,600선 회복", ()),
]


def write_config(tmp_path: Path, feed_url: str, db: str, **extra: Any) -> Path:
    data: dict[str, Any] = {
        "database": db,
        "fetch": {"allow_private_networks": True},
        "extract": {"workers": 1},
        "tags": TAGS,
        "feeds": [{"url": feed_url, "title": "테스트일보", "full_text": False, "tags": ["world"]}],
        **extra,
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def polled(tmp_path: Path, httpserver: HTTPServer, db: str | None = None) -> Path:
    base = httpserver.url_for("").rstrip("/")
    feed_items = [
        Item(guid=f"g{i}", title=title, link=f"{base}/a/{i}", categories=cats, description=title)
        for i, (title, cats) in enumerate(TITLES)
    ]
    httpserver.expect_request("/rss.xml").respond_with_data(
        rss("테스트일보", feed_items), content_type="application/rss+xml"
    )
    config = write_config(
        tmp_path, httpserver.url_for("/rss.xml"), db or f"sqlite:///{tmp_path}/t.db"
    )
    result = run("poll", "--config", str(config))
    assert result.exit_code == 0, result.output
    return config


def listed(config: Path) -> dict[str, list[str]]:
    rows = json.loads(run("list", "--config", str(config), "--json").output)
    return {r["title"]: sorted(r["tags"]) for r in rows}


def test_poll_gives_model_rule_feed_and_category_tags_and_digest_shows_them(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    config = polled(tmp_path, httpserver)
    tags = listed(config)
    assert tags[TITLES[0][0]] == ["sports", "world"]  # model + feed
    assert {"north-korea", "politics", "world"} <= set(tags[TITLES[1][0]])
    assert "economy" in tags[TITLES[2][0]]
    since = ("--since", "2026-01-01")
    digest = json.loads(run("digest", "--config", str(config), *since, "--format", "json").output)
    assert digest["counts"]["sports"] == 1 and digest["counts"]["north-korea"] == 1
    text = run("digest", "--config", str(config), *since).output
    assert "스포츠 (1)" in text and "북한 (1)" in text


def test_explain_shows_sources_scores_and_details(tmp_path: Path, httpserver: HTTPServer) -> None:
    config = polled(tmp_path, httpserver)
    rows = json.loads(run("list", "--config", str(config), "--json").output)
    ids = {r["title"]: r["id"] for r in rows}
    out = run("tags", "explain", "--config", str(config), str(ids[TITLES[1][0]]))
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert any("north-korea" in ln and "rule" in ln and "北@title" in ln for ln in lines)
    assert any("politics" in ln and "category" in ln and "정치" in ln for ln in lines)
    assert any("world" in ln and "feed" in ln and "1.000" in ln for ln in lines)
    sports = run("tags", "explain", "--config", str(config), str(ids[TITLES[0][0]])).output
    assert any(
        "sports" in ln and "model" in ln and "news-topics" in ln for ln in sports.splitlines()
    )
    assert "model now: sports" in sports
    assert run("tags", "explain", "--config", str(config), "424242").exit_code == 1


def test_retag_after_a_config_change(tmp_path: Path, httpserver: HTTPServer) -> None:
    config = polled(tmp_path, httpserver)
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    # A veto on the model's sports tag, and the feed's own tag changed.
    data["tags"]["sports"]["rules"] = [{"action": "veto", "keywords": ["토트넘"]}]
    data["feeds"][0]["tags"] = ["economy"]
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    rows = json.loads(run("list", "--config", str(config), "--json").output)
    explain = run("tags", "explain", "--config", str(config), str(rows[0]["id"])).output
    assert "would tag it differently" in explain

    out = run("tags", "retag", "--config", str(config))
    assert out.exit_code == 0, out.output
    assert "retagged 3 articles" in out.output
    tags = listed(config)
    assert tags[TITLES[0][0]] == ["economy"]  # sports vetoed, world no longer the feed's
    assert {"north-korea", "politics", "economy"} <= set(tags[TITLES[1][0]])
    assert (
        "world" not in tags[TITLES[1][0]]
    )  # the category survived the retag, the feed tag did not
    after = run("tags", "explain", "--config", str(config), str(rows[0]["id"])).output
    assert "would tag it differently" not in after
    assert (
        "retagged 0 articles"
        in run("tags", "retag", "--config", str(config), "--since", "2999-01-01").output
    )
    assert run("tags", "retag", "--config", str(config), "--since", "soon").exit_code == 2


def test_retag_in_batches_on_both_databases(
    db_url: str, tmp_path: Path, httpserver: HTTPServer
) -> None:
    config_path = polled(tmp_path, httpserver, db_url)
    config = parse_config(yaml.safe_load(config_path.read_text(encoding="utf-8")))
    config = config.model_copy(
        update={"tagger": config.tagger.model_copy(update={"enabled": False})}
    )
    store = SqlStore.open(db_url, create=False)
    try:
        batches: list[int] = []
        done = retag(store, config, open_tagger(config), batch=2, on_batch=batches.append)
        assert done == 3 and batches == [2, 1]
        every = store.articles_to_tag(None, 0, 10)
        tags = {a.title: {(t.tag, t.source) for t in store.article_tags(a.id)} for a in every}
        # The model switched off: no model tag is left; rules, feed tags and categories are.
        assert not any(s == "model" for ts in tags.values() for _, s in ts)
        assert ("north-korea", "rule") in tags[TITLES[1][0]]
        assert ("politics", "category") in tags[TITLES[1][0]]
        assert tags[TITLES[0][0]] == {("world", "feed")}
        # One transaction per batch: a failing write leaves the old tags in place.
        first = every[0].id
        before = store.article_tags(first)
        with pytest.raises(Exception):  # noqa: B017 - the database's own error, wrapped
            store.replace_tags(
                {first: [TagAssignment("x", "rule")], 10**9: [TagAssignment("y", "rule")]}
            )
        assert sorted(store.article_tags(first), key=repr) == sorted(before, key=repr)
    finally:
        store.close()


def test_eval_text_and_json(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"tags": TAGS}, allow_unicode=True), encoding="utf-8")
    data = tmp_path / "eval.tsv"
    data.write_text(
        "스포츠\t손흥민 멀티골…토트넘 3연승 질주\n"
        "sports\t류현진, 7이닝 무실점 호투\t메이저리그 토론토의 류현진이 시즌 10승을 올렸다.\n"
        "economy\t코스피 외국인 순매수에 2,600선 회복\n"
        "경제\t한국은행 기준금리 동결…물가 상승 우려\n"
        "Politics\t국회 본회의서 예산안 처리…여야 합의\n"
        "\n",
        encoding="utf-8",
    )
    out = run("tags", "eval", "--config", str(config), str(data), "--json")
    assert out.exit_code == 0, out.output
    result = json.loads(out.output)
    assert result["rows"] == 5
    assert set(result["per_label"]) == {"sports", "economy", "politics"}
    assert result["accuracy"] == 1.0 and result["macro_f1"] == 1.0
    assert result["per_label"]["sports"]["support"] == 2
    text = run("tags", "eval", "--config", str(config), str(data))
    assert text.exit_code == 0 and "macro-F1 1.0000" in text.output and "economy" in text.output

    bad = tmp_path / "bad.tsv"
    bad.write_text("날씨\t맑음\nsports\n", encoding="utf-8")
    failed = run("tags", "eval", "--config", str(config), str(bad))
    assert failed.exit_code == 2
    assert "bad.tsv:1: label '날씨' names no configured tag" in failed.output
    assert "bad.tsv:2: expected label<TAB>title" in failed.output


def test_prediction_is_the_best_scoring_label_in_the_file() -> None:
    tags = [
        TagAssignment("world", "feed", 1.0),
        TagAssignment("economy", "rule", 0.5),
        TagAssignment("economy", "model", 0.7),
        TagAssignment("sports", "model", 0.2),
    ]
    assert predict_label(tags, ["economy", "sports"]) == "economy"
    assert predict_label(tags, ["world", "economy"]) == "world"
    assert predict_label(tags, ["politics"]) is None
