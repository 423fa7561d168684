"""``aggregator tags learn`` on real section feeds served on loopback: Kyunghyang's 2018 feed
(its own per-item <category>) and Chosun Ilbo's politics feed (a section feed the config
tags), polled into SQLite, then learned from, cross-validated, stored and used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pytest_httpserver import HTTPServer

from aggregator.ingest.tag.learn import LEARNED_MODEL, outlet_of
from aggregator.store.sql import SqlStore
from tests.clirun import run
from tests.conftest import CORPUS
from tests.paths import REPO_ROOT

FEEDS = CORPUS / "feeds"
KHAN = FEEDS / "khan_total_news_2018-04-06.xml"
CHOSUN = FEEDS / "chosun_politics_2018-10-19.xml"


pytestmark = pytest.mark.usefixtures("isolated_cli_env")


def test_outlet_is_the_host_without_www() -> None:
    assert outlet_of("https://www.khan.co.kr/rss/rssdata/total_news.xml") == "khan.co.kr"
    assert outlet_of("https://rss.donga.com/total.xml") == "donga.com"
    assert outlet_of("http://127.0.0.1:8080/x.xml") == "127.0.0.1"
    assert outlet_of(None) == ""
    # A feed-hosting service holds many outlets: the path's first segment tells them apart.
    assert outlet_of("https://feeds.feedburner.com/zdkorea") == "feedburner.com/zdkorea"
    assert outlet_of("http://feedproxy.google.com/~r/Zdkorea/~3/abc") == (
        "feedproxy.google.com/zdkorea"
    )
    assert outlet_of("https://feeds.feedburner.com/") == "feedburner.com"


@pytest.mark.corpus
def test_learn_on_section_feeds_served_on_loopback(tmp_path: Path, httpserver: HTTPServer) -> None:
    if not KHAN.is_file() or not CHOSUN.is_file():
        pytest.skip(f"corpus feeds not found in {FEEDS}")
    httpserver.expect_request("/khan.xml").respond_with_data(
        KHAN.read_bytes(), content_type="application/rss+xml"
    )
    httpserver.expect_request("/politics.xml").respond_with_data(
        CHOSUN.read_bytes(), content_type="application/rss+xml"
    )
    # Two hosts for two outlets: the learned model is used per outlet.
    khan_url = httpserver.url_for("/khan.xml").replace("127.0.0.1", "localhost")
    chosun_url = httpserver.url_for("/politics.xml").replace("localhost", "127.0.0.1")
    shipped = yaml.safe_load((REPO_ROOT / "config.yaml").read_text(encoding="utf-8"))
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database": f"sqlite:///{tmp_path}/t.db",
                "fetch": {"allow_private_networks": True},
                "extract": {"workers": 1},
                "tags": shipped["tags"],
                "feeds": [
                    {"url": khan_url, "title": "경향신문 전체", "full_text": False},
                    {
                        "url": chosun_url,
                        "title": "조선일보 정치",
                        "full_text": False,
                        "tags": ["politics"],
                    },
                ],
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    polled = run("poll", "--config", str(config))
    assert polled.exit_code == 0, polled.output

    # Raw categories are stored, mapped or not (오피니언 일반 maps to no tag).
    store = SqlStore.open(f"sqlite:///{tmp_path}/t.db")
    try:
        articles = store.articles_to_tag(None, 0, 1000)
    finally:
        store.close()
    assert any("오피니언 일반" in a.categories for a in articles)
    assert sum(1 for a in articles if "경제 일반" in a.categories) == 31

    dry = run("tags", "learn", "--config", str(config), "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    report = json.loads(dry.stdout)
    assert report["stored"] is False
    outlets = {o["outlet"]: o for o in report["outlets"]}
    assert outlets["localhost"]["articles"] > 200  # Kyunghyang's items with one topic
    assert outlets["127.0.0.1"]["articles"] == 30  # Chosun's politics section
    assert set(report["labels"]) >= {"society", "economy", "politics", "culture", "world"}
    # The adaptation learns Kyunghyang's filing (courts and prosecutors are society there).
    khan = outlets["localhost"]
    assert khan["adapted_macro_f1"] > khan["shipped_macro_f1"] and khan["used"]

    learned = run("tags", "learn", "--config", str(config))
    assert learned.exit_code == 0, learned.output
    assert "used for localhost" in learned.output and "shipped F1" in learned.output
    store = SqlStore.open(f"sqlite:///{tmp_path}/t.db")
    try:
        assert store.load_tag_model(LEARNED_MODEL) is not None
        khan_article = next(a for a in articles if a.feeds[0][0] == khan_url)
    finally:
        store.close()
    assert run("tags", "retag", "--config", str(config)).exit_code == 0
    explained = run("tags", "explain", "--config", str(config), str(khan_article.id)).output
    assert "learned for localhost" in explained, explained

    assert run("tags", "learn", "--config", str(config), "--forget").exit_code == 0
    explained = run("tags", "explain", "--config", str(config), str(khan_article.id)).output
    now = " ".join(explained[explained.index("model now:") :].split())
    assert "learned for" not in now and "news-topics" in now


def test_a_learned_model_scores_a_batch_as_each_alone() -> None:
    """The learned correction in a batch (assess_many) gives each article its own scores,
    for its outlets, and the shipped model's elsewhere."""
    import numpy as np

    from aggregator.ingest.tag.learn import AdaptedModel
    from aggregator.ingest.tag.model import TopicModel

    base = TopicModel.load()
    rng = np.random.default_rng(7)
    weights = np.zeros(base.weights.shape, np.float32)
    rows = rng.integers(0, weights.shape[0], 20_000)
    weights[rows] = rng.normal(0, 0.5, (rows.size, weights.shape[1])).astype(np.float32)
    model = AdaptedModel(
        base=base,
        weights=weights,
        bias=rng.normal(0, 0.1, weights.shape[1]).astype(np.float32),
        outlets=frozenset({"news.a.test"}),
    )
    articles = [
        ("배우 김지원, 새 드라마 주연 확정", "소속사는 3일 이렇게 밝혔다. " * 10),
        ("", ""),
        ("Stocks rally as the Fed holds rates", "Shares rose on Wall Street. " * 10),
    ]
    for feed_url in ("https://news.a.test/rss", "https://other.test/rss"):
        batch = model.assess_many(articles, feed_url)
        alone = [model.assess(t, x, feed_url) for t, x in articles]
        assert [a.scores for a in batch] == [a.scores for a in alone]
        assert [a.model for a in batch] == [a.model for a in alone]
