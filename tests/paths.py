"""Where the tests find their fixtures, wherever in tests/ the test module sits."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent
DATA = TESTS / "data"
REPO_ROOT = TESTS.parent
