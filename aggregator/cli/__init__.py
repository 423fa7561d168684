"""The ``aggregator`` command line: the ``cli`` group, its global options and ``main``.

The commands live in the modules beside this one, one per group of commands (each says which
it holds, and lists them in its ``COMMANDS``); :data:`COMMAND_MODULES` says where each is, and
``cli`` imports a module when one of its commands runs. Each command
is wiring and exit codes only: what it prints is built by a pure function of its module (or
of :mod:`aggregator.read`). Those modules import pydantic, SQLAlchemy, the pipeline and rich
inside the commands, so that ``aggregator --help`` and the reading commands stay fast.

Exit status: 0 all fine; 1 some work failed (e.g. some feeds failed to update); 2 usage,
configuration or database-schema error (nothing was started).
"""

from __future__ import annotations

import atexit
import gc
import importlib
import sys

import click

from aggregator import __version__
from aggregator.cli.common import config_option
from aggregator.errors import AggregatorError, ConfigError, StoreError

__all__ = ["COMMAND_MODULES", "cli", "main"]

# Which module of this package holds each command. The module is imported when its command
# runs (or `--help` lists them all): `aggregator digest` then pays for the reading commands'
# module only, not for the other five.
COMMAND_MODULES: dict[str, str] = {
    "check-config": "feeds",
    "poll": "feeds",
    "feeds": "feeds",
    "list": "feeds",
    "extract": "feeds",
    "db": "daemon",
    "run": "daemon",
    "status": "daemon",
    "prune": "daemon",
    "digest": "reading",
    "browse": "reading",
    "show": "reading",
    "read": "reading",
    "unread": "reading",
    "star": "reading",
    "search": "reading",
    "export": "exchange",
    "import": "exchange",
    "serve": "exchange",
    "tags": "tags",
    "stories": "stories",
}


class _LazyGroup(click.Group):
    """The top-level group: commands are found in :data:`COMMAND_MODULES` and imported on
    first use (click's documented lazy-loading pattern)."""

    @property
    def commands(self) -> dict[str, click.Command]:
        """Every command (imports every module: for introspection, not for running one)."""
        return {name: self._load(name) for name in sorted(COMMAND_MODULES)}

    @commands.setter
    def commands(self, _value: object) -> None:
        # click.Group.__init__ assigns its (empty) dict; the commands come from the modules.
        pass

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name) if cmd_name in COMMAND_MODULES else None

    @staticmethod
    def _load(name: str) -> click.Command:
        module = importlib.import_module(f"{__name__}.{COMMAND_MODULES[name]}")
        commands: tuple[click.Command, ...] = module.COMMANDS
        return next(c for c in commands if c.name == name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="aggregator")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default=None,
    help="Log lines as key=value text or JSON (default: logging.format in the config).",
)
@config_option
@click.pass_context
def cli(ctx: click.Context, verbose: int, log_format: str | None) -> None:
    """aggregator: follows Korean news feeds, keeps clean full text, tags it.

    Data flow: config → fetch → parse → extract → tag → store → list/digest.
    """
    obj = ctx.ensure_object(dict)
    obj["verbose"] = verbose
    obj["log_format"] = log_format


def main() -> None:
    # Most commands are short: the cyclic collector's passes over the objects the imports
    # create (and its final pass at exit) cost ~0.13 s and free nothing worth having.
    # `run` and `poll`, which allocate for minutes or months, turn it back on.
    gc.disable()
    atexit.register(gc.freeze)
    try:
        cli(prog_name="aggregator")
    except AggregatorError as exc:
        # Every command that can meet one handles it; this is the net under them, so that
        # a user never sees a traceback for a database or input problem.
        click.echo(f"aggregator: {exc}", err=True)
        sys.exit(2 if isinstance(exc, (ConfigError, StoreError)) else 1)
