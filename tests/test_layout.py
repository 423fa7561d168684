"""The package layout: packages by stage, dependencies one way, no import circles, package
``__init__`` files that import nothing, and package data that installs from a wheel.

The import graph is read from the source by grimp (import-linter's graph library), imports
inside functions and under ``TYPE_CHECKING`` included: a circle that only type checkers see
is still a circle for a reader. The contracts themselves are in pyproject.toml
(``[tool.importlinter]``) so that ``lint-imports`` checks the same thing outside the tests.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import grimp
import pytest

from tests.paths import REPO_ROOT

REPO = REPO_ROOT
PACKAGE = REPO / "aggregator"

# Which top-level packages each one may import (besides itself and the root module, whose
# only export is __version__). This is the layering of STYLE.md §5.1 as a table: anything
# not listed is an upward or sideways import.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "models": set(),
    "text": {"errors"},
    "config": {"text", "models", "errors"},
    "store": {"text", "models", "errors"},
    "ingest": {"store", "config", "text", "models", "errors"},
    "read": {"store", "config", "text", "models", "errors"},
    "export": {"ingest", "store", "config", "text", "models", "errors"},
    "service": {"read", "export", "ingest", "store", "config", "text", "models", "errors"},
    "cli": {
        "service",
        "read",
        "export",
        "ingest",
        "store",
        "config",
        "text",
        "models",
        "errors",
    },
    "__main__": {"cli"},
}

# Inside ingest, the stages are independent of each other; only the pipeline composes them
# (with prepare, the half of an update that worker processes run).
STAGES = {"decide", "schedule", "fetch", "parse", "extract", "tag", "stories"}

# Package __init__ files that may import: the click group registers its command modules.
INIT_MAY_IMPORT = {PACKAGE / "__init__.py", PACKAGE / "cli" / "__init__.py"}


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("aggregator", include_external_packages=False, cache_dir=None)


def _top(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _imports(graph: grimp.ImportGraph) -> list[tuple[str, str]]:
    return sorted(
        (importer, imported)
        for importer in graph.modules
        for imported in graph.find_modules_directly_imported_by(importer)
    )


def test_every_package_is_in_the_dependency_table(graph: grimp.ImportGraph) -> None:
    tops = {_top(m) for m in graph.modules} - {None}
    assert tops == set(ALLOWED), "a new top-level module needs its row in ALLOWED"


def test_no_upward_or_sideways_imports(graph: grimp.ImportGraph) -> None:
    wrong = [
        f"{importer} -> {imported}"
        for importer, imported in _imports(graph)
        if (a := _top(importer)) is not None
        and (b := _top(imported)) is not None
        and a != b
        and b not in ALLOWED[a]
    ]
    assert wrong == []


def test_stage_modules_know_nothing_of_each_other(graph: grimp.ImportGraph) -> None:
    def stage(module: str) -> str | None:
        parts = module.split(".")
        return parts[2] if len(parts) > 2 and parts[1] == "ingest" else None

    crossing = [
        f"{importer} -> {imported}"
        for importer, imported in _imports(graph)
        if (a := stage(importer)) in STAGES and (b := stage(imported)) in STAGES and a != b
    ]
    assert crossing == []


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_circles(graph: grimp.ImportGraph) -> None:
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_circle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "circular_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from circular_pkg import b\n")
    (package / "b.py").write_text("from circular_pkg import c\n")
    (package / "c.py").write_text("def f():\n    from circular_pkg import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    built = grimp.build_graph("circular_pkg", cache_dir=None)
    assert _cycles(built) == [["circular_pkg.a", "circular_pkg.b", "circular_pkg.c"]]


def test_import_linter_contracts_are_kept() -> None:
    # In a subprocess: import-linter configures logging, which would silence our loggers for
    # every later test in this process.
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command as run; "
            "sys.exit(run(['--no-cache', '--config', 'pyproject.toml']))",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


def test_package_init_files_import_nothing() -> None:
    importing = []
    for init in sorted(PACKAGE.rglob("__init__.py")):
        if init in INIT_MAY_IMPORT or "migrations" in init.parts:
            continue
        tree = ast.parse(init.read_text(encoding="utf-8"))
        if any(isinstance(node, ast.Import | ast.ImportFrom) for node in ast.walk(tree)):
            importing.append(str(init.relative_to(REPO)))
    assert importing == []


@pytest.mark.slow
def test_the_wheel_carries_the_model_and_the_migrations(tmp_path: Path) -> None:
    """Build the wheel as a user's pip would, then import the tagger model and run the
    migrations from the unpacked wheel alone (not from this checkout)."""
    try:
        from setuptools.command.bdist_wheel import bdist_wheel  # noqa: F401
    except ImportError:
        pytest.skip("this environment's setuptools cannot build wheels (needs setuptools>=70.1)")
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "--wheel-dir",
            str(tmp_path / "dist"),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("aggregator-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "aggregator/ingest/tag/data/news-topics.npz" in names
    assert "aggregator/store/migrations/env.py" in names
    assert any(n.startswith("aggregator/store/migrations/versions/0001") for n in names)
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = (
        "import aggregator, sys\n"
        "from pathlib import Path\n"
        f"assert Path(aggregator.__file__).is_relative_to({str(site)!r}), aggregator.__file__\n"
        "from aggregator.ingest.tag.model import TopicModel\n"
        "model = TopicModel.load()\n"
        "assert model.scores('국회 본회의 예산안 통과')\n"
        "from aggregator.store.sql import SqlStore\n"
        f"store = SqlStore.open('sqlite:///{tmp_path / 'w.db'}')\n"
        "store.close()\n"
        "print('ok')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"
