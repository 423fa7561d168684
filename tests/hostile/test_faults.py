"""Faults of the machine under the daemon's feet: a full disk. Real: a small tmpfs the test
mounts (skipped with the reason where it may not mount), a real SQLite file on it, real
polls over loopback."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from pytest_httpserver import HTTPServer

from tests.clirun import run
from tests.sites import Item, rss

pytestmark = pytest.mark.usefixtures("isolated_cli_env")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> Path:
    """Fill ``disk`` to the last block."""
    filler = disk / "filler"
    with filler.open("wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_is_a_clear_error_loses_nothing_and_recovers(
    small_disk: Path, tmp_path: Path, httpserver: HTTPServer
) -> None:
    first = [Item(f"a{i}", f"첫 기사 {i}", f"https://news.test/a/{i}") for i in range(3)]
    more = [
        Item(f"b{i}", f"둘째 기사 {i} " + "내용 " * 200, f"https://news.test/b/{i}")
        for i in range(300)
    ]
    documents = {"body": rss("테스트일보", first)}
    httpserver.expect_request("/rss.xml").respond_with_handler(
        lambda request: __import__("werkzeug").Response(
            documents["body"], content_type="application/rss+xml"
        )
    )
    database = small_disk / "aggregator.db"
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database": f"sqlite:///{database}",
                "fetch": {"allow_private_networks": True},
                "extract": {"workers": 1},
                "feeds": [{"url": httpserver.url_for("/rss.xml"), "full_text": False}],
            }
        ),
        encoding="utf-8",
    )
    assert run("poll", "--config", str(config)).exit_code == 0

    def stored() -> set[str]:
        out = run("list", "--config", str(config), "--json", "--limit", "1000")
        assert out.exit_code == 0, out.output
        return {row["title"].split()[0] + row["title"].split()[2] for row in json.loads(out.stdout)}

    before = stored()
    assert len(before) == 3
    documents["body"] = rss("테스트일보", first + more)
    filler = _fill(small_disk)
    full = run("poll", "--config", str(config))
    # SQLite may fail as it opens (the WAL index) or as the update commits: either way the
    # poll fails with the reason, and names the full disk.
    assert full.exit_code in (1, 2), full.output
    assert f"the disk holding {database} is full" in full.output, full.output
    assert "Traceback" not in full.output
    filler.unlink()
    assert stored() == before  # nothing half-written: the update was one transaction

    again = run("poll", "--config", str(config))
    assert again.exit_code == 0, again.output
    assert len(stored()) == 303
