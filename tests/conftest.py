"""Shared fixtures: the real corpus in ../shared (skipped where absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = REPO_ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
CORPUS_LABELS = SHARED / "corpus-labels"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"real-data corpus not found at {CORPUS} (it lives beside the repository)")
    return CORPUS
