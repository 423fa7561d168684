"""``stories rebuild``: clustering the stored articles into stories again, with the pure
function that reports it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from aggregator.cli.common import config_option, errors_exit, load, open_store, parse_since_option

if TYPE_CHECKING:
    from aggregator.service.upkeep import RebuildReport

__all__ = ["COMMANDS", "rebuild_summary"]


def rebuild_summary(report: RebuildReport) -> str:
    stories = "story" if report.stories == 1 else "stories"
    return (
        f"clustered {report.articles} articles into {report.stories} {stories} "
        f"({report.skipped} too short to cluster)"
    )


@click.group("stories")
def stories_group() -> None:
    """Story clusters: the same event covered by several outlets."""


@stories_group.command("rebuild")
@click.option(
    "--since",
    "since_value",
    metavar="WHEN",
    help="Only articles published since then (24h, 7d, a date); default: all.",
)
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 10000))
@config_option
@click.pass_context
def stories_rebuild(ctx: click.Context, since_value: str | None, batch: int) -> None:
    """Cluster stored articles into stories again (after an upgrade or new thresholds).

    Forgets the stories of the articles in the period, then assigns them in time batches
    with the configured thresholds (config `stories`). Safe to interrupt and run again.

    Example: aggregator stories rebuild --since 7d
    """
    from rich.progress import Progress

    from aggregator.service.upkeep import rebuild_stories

    config = load(ctx)
    store = open_store(config)
    now = datetime.now(UTC)
    try:
        with errors_exit():
            since = parse_since_option(config.display.timezone, since_value, store, now)
            with Progress(transient=True) as bar:
                task = bar.add_task("clustering", total=None)
                report = rebuild_stories(
                    store,
                    config.stories,
                    since=since,
                    batch=batch,
                    on_batch=lambda done, total: bar.update(task, completed=done, total=total),
                )
    finally:
        store.close()
    click.echo(rebuild_summary(report))


# What this module adds to the `cli` group (aggregator/cli/__init__.py).
COMMANDS: tuple[click.Command, ...] = (stories_group,)
