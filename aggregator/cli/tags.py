"""The tagger's commands: ``tags explain`` (why an article has its tags), ``tags retag``
(after a config or model change) and ``tags eval`` (on a labelled file), with the pure
functions that build what they print.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from aggregator.cli.common import (
    config_option,
    echo_json,
    errors_exit,
    fail,
    load,
    make_plain_console,
    open_store,
    parse_article_id,
    parse_since_option,
)
from aggregator.errors import AggregatorError
from aggregator.text.terminal import clean_line

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.table import Table

    from aggregator.config.schema import Config
    from aggregator.ingest.tag.learn import LearnReport
    from aggregator.ingest.tag.loader import Tagger
    from aggregator.ingest.tag.rules import TagReport
    from aggregator.models import TagAssignment
    from aggregator.store.records.service import ArticleToTag

__all__ = [
    "COMMANDS",
    "eval_summary",
    "eval_table",
    "explain_renderables",
    "learn_summary",
    "learn_table",
]

# The stored tags of an article in the order they are decided: the feed's first, the model last.
_SOURCE_ORDER = {"feed": 0, "category": 1, "rule": 2, "model": 3}


@click.group("tags")
def tags_group() -> None:
    """Why an article has its tags; re-tag after a change; measure the tagger."""


def _open_tagger(
    config: Config, *, with_model: bool | None = None, learned: tuple[str, bytes] | None = None
) -> Tagger:
    """The tagger, with the model ``tags learn`` stored when ``learned`` holds it."""
    from aggregator.ingest.tag.loader import open_tagger, with_learned

    with errors_exit():
        try:
            tagger = open_tagger(config, with_model=with_model)
            return with_learned(config, tagger, learned) if learned is not None else tagger
        except AggregatorError as exc:
            fail(str(exc))


# -- explain -------------------------------------------------------------------------------


def explain_renderables(
    article: ArticleToTag,
    stored: Sequence[TagAssignment],
    now: TagReport,
    *,
    threshold: float,
    tagger_enabled: bool,
) -> list[RenderableType]:
    """``tags explain``, one item per print: the title, the ``stored`` tags as a table, then
    what the config and model would decide ``now`` (its top model scores, vetoes), and
    whether that differs from what is stored.

    The str items are printed as rich markup, as they always were: they hold tag names from
    the config and numbers, never feed text (that comes as Text)."""
    from rich.table import Table
    from rich.text import Text

    out: list[RenderableType] = [Text(f"#{article.id} {clean_line(article.title)}", style="bold")]
    table = Table("tag", "source", "score", "detail", title="stored tags", title_justify="left")
    for t in sorted(stored, key=lambda t: (_SOURCE_ORDER.get(t.source, 9), -t.score, t.tag)):
        table.add_row(t.tag, t.source, f"{t.score:.3f}", Text(clean_line(t.detail, 100)))
    if not stored:
        table.add_row("-", "-", "-", "no tags")
    out.append(table)
    if now.model_scores:
        top = sorted(now.model_scores.items(), key=lambda kv: -kv[1])[:3]
        shown = ", ".join(f"{tag} {score:.3f}" for tag, score in top)
        out.append(Text(f"model now: {shown} (threshold {threshold}; {now.model})"))
    elif tagger_enabled:
        reason = now.abstained or "no model scores"
        out.append(Text(f"model now: abstains ({reason}; {now.model or 'topic model'})"))
    for tag, detail in now.vetoed.items():
        out.append(Text(f"vetoed now: {tag} ({clean_line(detail, 100)})"))
    if {(t.tag, t.source) for t in now.tags} != {(t.tag, t.source) for t in stored}:
        out.append("the current config or model would tag it differently: aggregator tags retag")
    return out


@tags_group.command("explain")
@click.argument("article_id")
@config_option
@click.pass_context
def tags_explain_cmd(ctx: click.Context, article_id: str) -> None:
    """Every tag of an article: source (model, rule, feed, category), score and what matched
    where; then what the current config and model would decide (model scores, vetoes).

    Example: aggregator tags explain 1024
    """
    from aggregator.ingest.tag.explain import report_for_article
    from aggregator.ingest.tag.learn import LEARNED_MODEL
    from aggregator.ingest.tag.loader import tagging_for

    config = load(ctx)
    ident = parse_article_id(article_id)
    store = open_store(config, create=False)
    try:
        with errors_exit():
            stored = store.article_tags(ident)
            found = store.articles_to_tag(None, ident - 1, 1)
            learned = store.load_tag_model(LEARNED_MODEL)
    finally:
        store.close()
    if not found or found[0].id != ident:
        fail(f"no article #{ident}", 1)
    article = found[0]
    tagger = _open_tagger(config, learned=learned)
    now = report_for_article(config, tagging_for(config, tagger), article)
    console = make_plain_console()
    for item in explain_renderables(
        article,
        stored,
        now,
        threshold=config.tagger.threshold,
        tagger_enabled=config.tagger.enabled,
    ):
        console.print(item)


# -- retag ---------------------------------------------------------------------------------


@tags_group.command("retag")
@click.option(
    "--since",
    "since_value",
    default=None,
    help="Only articles first seen since: 24h, 7d, a date, or 'last' (the previous digest).",
)
@config_option
@click.pass_context
def tags_retag_cmd(ctx: click.Context, since_value: str | None) -> None:
    """Re-apply feed tags, categories, rules and the model to stored articles, in batches
    (each batch in one transaction: no article is ever half-tagged).

    Example: aggregator tags retag --since 7d
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from aggregator.ingest.tag.learn import LEARNED_MODEL
    from aggregator.service.upkeep import retag

    config = load(ctx)
    store = open_store(config)
    try:
        with errors_exit():
            tagger = _open_tagger(config, learned=store.load_tag_model(LEARNED_MODEL))
            since = parse_since_option(
                config.display.timezone, since_value, store, datetime.now(UTC)
            )
            total = store.count_articles_to_tag(since)
            with Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=make_plain_console(stderr=True),
            ) as progress:
                task = progress.add_task("retagging", total=total)
                done = retag(
                    store,
                    config,
                    tagger,
                    since=since,
                    on_batch=lambda n: progress.advance(task, n),
                )
    finally:
        store.close()
    click.echo(f"retagged {done} articles")


# -- eval ----------------------------------------------------------------------------------


def eval_table(result: Mapping[str, Any]) -> Table:
    """Precision, recall, F1 and support of each label of an evaluation."""
    from rich.table import Table

    table = Table("label", "precision", "recall", "F1", "support")
    for label, m in result["per_label"].items():
        table.add_row(
            label,
            f"{m['precision']:.3f}",
            f"{m['recall']:.3f}",
            f"{m['f1']:.3f}",
            str(m["support"]),
        )
    return table


def eval_summary(result: Mapping[str, Any]) -> str:
    """The line under :func:`eval_table`: the figures of the whole file."""
    return (
        f"macro-F1 {result['macro_f1']:.4f}  accuracy {result['accuracy']:.4f}  "
        f"rows {result['rows']}  without prediction {result['no_prediction']}"
    )


@tags_group.command("eval")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@config_option
@click.pass_context
def tags_eval_cmd(ctx: click.Context, path: str, as_json: bool) -> None:
    """Measure the full tagger on a labelled file: label<TAB>title[<TAB>text] rows, labels
    being tag names or their labels. A row's prediction is its highest-scoring tag among the
    file's labels (none if it has none of them).

    Example: aggregator tags eval held-out.tsv --json
    """
    from aggregator.ingest.tag.evaluate import evaluate, read_eval_file

    config = load(ctx)
    with errors_exit():
        rows = read_eval_file(Path(path), config)
    if not rows:
        fail(f"{path}: no rows")
    result = evaluate(rows, config, _open_tagger(config))
    if as_json:
        echo_json(result)
        return
    console = make_plain_console()
    console.print(eval_table(result))
    console.print(eval_summary(result))


# -- learn ---------------------------------------------------------------------------------


def learn_table(report: LearnReport) -> Table:
    """Cross-validated macro-F1 of the shipped and the adapted model, per outlet."""
    from rich.table import Table

    table = Table("outlet", "articles", "shipped F1", "learned F1", "used")
    for o in report.outlets:
        table.add_row(
            clean_line(o.outlet),
            str(o.articles),
            f"{o.shipped_f1:.3f}",
            f"{o.adapted_f1:.3f}",
            "yes" if o.used else "no",
        )
    table.add_row(
        "all", str(report.articles), f"{report.shipped_f1:.3f}", f"{report.adapted_f1:.3f}", ""
    )
    return table


def learn_summary(report: LearnReport, *, stored: bool) -> str:
    labels = ", ".join(f"{tag} {n}" for tag, n in report.labels.items())
    used = ", ".join(report.used) or "no outlet"
    if not stored:
        return (
            f"learned from {report.articles} articles ({labels}); would be used for {used} "
            "(dry run: nothing stored)"
        )
    return (
        f"learned from {report.articles} articles ({labels}); used for {used}. "
        "Run `aggregator tags retag` to apply it to stored articles."
    )


@tags_group.command("learn")
@click.option("--dry-run", is_flag=True, help="Measure only; store nothing.")
@click.option(
    "--forget", is_flag=True, help="Delete the learned model: the shipped one alone tags."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@config_option
@click.pass_context
def tags_learn_cmd(ctx: click.Context, dry_run: bool, forget: bool, as_json: bool) -> None:
    """Adapt the topic model to your outlets: learn from the stored articles whose feed's
    tags or <category> values give them one topic, cross-validate against the shipped model
    per outlet, and store the adaptation in the database for the outlets where it wins.

    Example: aggregator tags learn --dry-run
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress

    from aggregator.ingest.tag.explain import outlet_topics
    from aggregator.ingest.tag.learn import (
        LEARNED_MODEL,
        encode_meta,
        fit_adaptation,
        labelled_articles,
        report_json,
    )
    from aggregator.ingest.tag.loader import tagging_for
    from aggregator.ingest.tag.model import TopicModel

    config = load(ctx)
    store = open_store(config)
    try:
        with errors_exit():
            if forget:
                gone = store.delete_tag_model(LEARNED_MODEL)
                click.echo("deleted the learned tag model" if gone else "no learned tag model")
                return
            tagger = _open_tagger(config, with_model=True)
            base = tagger.model
            if not isinstance(base, TopicModel):
                fail("tags learn needs the topic model")
            tagging = tagging_for(config, tagger)
            items: list[tuple[str, str, str | None, list[str]]] = []
            total = store.count_articles_to_tag(None)
            console = make_plain_console(stderr=True)
            with Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                console=console,
                transient=True,
            ) as progress:
                task = progress.add_task("reading articles", total=total)
                after = 0
                while batch := store.articles_to_tag(None, after, 500):
                    for article in batch:
                        topics = [
                            t for t in outlet_topics(config, tagging, article) if t in base.tags
                        ]
                        feed_url = article.feeds[0][0] if article.feeds else article.url
                        items.append((article.title, article.text, feed_url, topics))
                    after = batch[-1].id
                    progress.advance(task, len(batch))
            now = datetime.now(UTC)
            try:
                adapted, report = fit_adaptation(
                    base, labelled_articles(items), now, on_step=lambda step: console.print(step)
                )
            except AggregatorError as exc:
                fail(str(exc))
            if not dry_run:
                store.save_tag_model(
                    LEARNED_MODEL, encode_meta(adapted.meta), adapted.to_blob(), now
                )
    finally:
        store.close()
    if as_json:
        echo_json({**report_json(report), "stored": not dry_run})
        return
    out = make_plain_console()
    out.print(learn_table(report))
    out.print(learn_summary(report, stored=not dry_run))


# What this module adds to the `cli` group (aggregator/cli/__init__.py).
COMMANDS: tuple[click.Command, ...] = (tags_group,)
