"""Running the CLI in-process for tests: :func:`run`, and the ``isolated_cli_env`` fixture
(tests/conftest.py) that keeps a test's commands off the developer's database."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner

from aggregator.cli import cli


def run(*args: str) -> Any:
    """``aggregator ARGS...``; exceptions propagate (a traceback is a failure, not output)."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)
