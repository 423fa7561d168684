"""sd_notify client, and the systemd unit as systemd itself judges it."""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from pathlib import Path

import pytest

from aggregator.service import systemd
from tests.paths import REPO_ROOT

UNIT = REPO_ROOT / "systemd" / "aggregator.service"
ENV_EXAMPLE = REPO_ROOT / "systemd" / "aggregator.env.example"
INSTALLED_EXEC = "/opt/aggregator/venv/bin/aggregator"
MAX_EXPOSURE = 2.0

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="sd_notify and abstract sockets are Linux-only"
)


# -- notify ------------------------------------------------------------------------------------


def _receiver(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(5)
    return sock


@pytest.fixture
def path_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = tmp_path / "notify.sock"
    # sun_path holds 108 bytes; deep pytest tmp dirs can exceed that.
    short_dir = None
    if len(os.fsencode(path)) >= 100:
        short_dir = tempfile.mkdtemp(prefix="agg")
        path = Path(short_dir) / "n.sock"
    sock = _receiver(str(path))
    try:
        yield sock, str(path)
    finally:
        sock.close()
        if short_dir:
            shutil.rmtree(short_dir, ignore_errors=True)


@pytest.fixture
def abstract_socket() -> Iterator[tuple[socket.socket, str]]:
    name = f"aggregator-test-{uuid.uuid4().hex}"
    sock = _receiver("\0" + name)
    try:
        yield sock, "@" + name
    finally:
        sock.close()


@linux_only
@pytest.mark.parametrize(
    ("send", "expected"),
    [
        (systemd.ready, b"READY=1"),
        (systemd.stopping, b"STOPPING=1"),
        (systemd.watchdog, b"WATCHDOG=1"),
        (lambda env: systemd.status("12 feeds, 3 failing", env), b"STATUS=12 feeds, 3 failing"),
        (
            lambda env: systemd.notify("RELOADING=1\nMONOTONIC_USEC=1", env),
            b"RELOADING=1\nMONOTONIC_USEC=1",
        ),
    ],
)
def test_notify_reaches_a_path_socket(
    path_socket: tuple[socket.socket, str],
    send: Callable[[Mapping[str, str]], bool],
    expected: bytes,
) -> None:
    sock, address = path_socket
    assert send({"NOTIFY_SOCKET": address}) is True
    assert sock.recv(4096) == expected


@linux_only
def test_notify_reaches_an_abstract_socket(abstract_socket: tuple[socket.socket, str]) -> None:
    sock, address = abstract_socket
    assert systemd.ready({"NOTIFY_SOCKET": address}) is True
    assert sock.recv(4096) == b"READY=1"


@linux_only
def test_notify_reads_os_environ_by_default(
    path_socket: tuple[socket.socket, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sock, address = path_socket
    monkeypatch.setenv("NOTIFY_SOCKET", address)
    assert systemd.watchdog() is True
    assert sock.recv(4096) == b"WATCHDOG=1"


@linux_only
def test_status_cannot_smuggle_other_assignments(path_socket: tuple[socket.socket, str]) -> None:
    sock, address = path_socket
    assert systemd.status("ok\nREADY=1", {"NOTIFY_SOCKET": address})
    assert sock.recv(4096) == b"STATUS=ok READY=1"


def test_without_notify_socket_nothing_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert systemd.ready() is False
    assert systemd.notify("READY=1", {}) is False
    assert systemd.notify("READY=1", {"NOTIFY_SOCKET": ""}) is False


@pytest.mark.parametrize("address", ["relative/notify.sock", "vsock:2:1234"])
def test_unsupported_address_is_ignored(address: str) -> None:
    assert systemd.notify("READY=1", {"NOTIFY_SOCKET": address}) is False


@linux_only
def test_socket_errors_do_not_raise(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="aggregator.service.systemd")
    missing = str(tmp_path / "gone.sock")
    assert systemd.ready({"NOTIFY_SOCKET": missing}) is False
    assert systemd.stopping({"NOTIFY_SOCKET": "@aggregator-test-nobody-listens"}) is False
    assert "sd_notify" in caplog.text


# -- watchdog_interval -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": ""}, None),
        ({"WATCHDOG_USEC": "60000000"}, 30.0),
        ({"WATCHDOG_USEC": "1000000"}, 0.5),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(os.getpid())}, 30.0),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "self"}, None),
        ({"WATCHDOG_USEC": "sixty"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "-5"}, None),
    ],
)
def test_watchdog_interval(environ: dict[str, str], expected: float | None) -> None:
    assert systemd.watchdog_interval(environ) == expected


def test_watchdog_interval_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "20000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert systemd.watchdog_interval() == 10.0
    monkeypatch.delenv("WATCHDOG_USEC")
    assert systemd.watchdog_interval() is None


# -- the unit file, read as text ---------------------------------------------------------------


def _settings(text: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def _seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)(s|min)?", value)
    assert match, f"unexpected time span {value!r}"
    return int(match[1]) * (60 if match[2] == "min" else 1)


def test_unit_states_the_requirements() -> None:
    unit = _settings(UNIT.read_text(encoding="utf-8"))
    assert unit["Type"] == ["notify"]
    assert unit["Restart"] == ["on-failure"]
    assert unit["DynamicUser"] == ["yes"]
    assert unit["StateDirectory"] == ["aggregator"]
    assert unit["ExecStart"] == [f"{INSTALLED_EXEC} --config /etc/aggregator/config.yaml run"]
    assert unit["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert (
        "AGGREGATOR_DATABASE_URL=sqlite:////var/lib/aggregator/aggregator.db"
        in (unit["Environment"])
    )
    assert unit["EnvironmentFile"] == ["-/etc/aggregator/aggregator.env"]
    assert unit["MemoryMax"]
    for option in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices"):
        assert unit[option] == ["yes"], option
    assert unit["ProtectSystem"] == ["strict"]
    assert "@system-service" in unit["SystemCallFilter"]
    assert unit["RestrictAddressFamilies"] == ["AF_UNIX AF_INET AF_INET6"]

    # The daemon pings at the interval systemd's WATCHDOG_USEC implies; 30 s for 60 s.
    watchdog_usec = _seconds(unit["WatchdogSec"][0]) * 1_000_000
    interval = systemd.watchdog_interval({"WATCHDOG_USEC": str(watchdog_usec)})
    assert interval is not None and interval <= 30

    # systemd must not SIGKILL the daemon while it is still inside its own shutdown grace.
    from aggregator.config.schema import Config

    grace = getattr(Config().schedule, "shutdown_grace", 20.0)
    grace = grace.total_seconds() if isinstance(grace, timedelta) else float(grace)
    assert _seconds(unit["TimeoutStopSec"][0]) >= grace + 15


def test_env_example_sets_the_database_url() -> None:
    env = _settings(ENV_EXAMPLE.read_text(encoding="utf-8"))
    assert env["AGGREGATOR_DATABASE_URL"][0].startswith("postgresql+psycopg://")
    assert "CHANGE-ME" in env["AGGREGATOR_DATABASE_URL"][0]


# -- systemd-analyze ---------------------------------------------------------------------------


def _systemd_analyze() -> str:
    exe = shutil.which("systemd-analyze")
    if exe is None:
        pytest.skip("systemd-analyze not installed (Debian/Ubuntu: apt install systemd)")
    return exe


def _systemd_version(exe: str) -> int:
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True).stdout
    match = re.match(r"systemd (\d+)", out)
    assert match, f"cannot read the systemd version from {out!r}"
    return int(match[1])


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SYSTEMD_COLORS": "0", "SYSTEMD_PAGER": "", "LC_ALL": "C.UTF-8"}
    return subprocess.run(
        list(args), capture_output=True, text=True, errors="replace", env=env, timeout=120
    )


@pytest.fixture
def checkable_unit(tmp_path: Path) -> Path:
    """The shipped unit with only ExecStart's binary swapped for one that exists here.

    `systemd-analyze verify` fails when ExecStart's binary is missing, and
    /opt/aggregator/venv is not installed on test machines. Every other line stays
    identical, so what is checked is what ships.
    """
    console_script = Path(sys.executable).parent / "aggregator"
    if console_script.is_file() and os.access(console_script, os.X_OK):
        command = str(console_script)
    else:
        command = f"{sys.executable} -m aggregator"
    text, count = re.subn(
        rf"^ExecStart={re.escape(INSTALLED_EXEC)} ",
        f"ExecStart={command} ",
        UNIT.read_text(encoding="utf-8"),
        flags=re.MULTILINE,
    )
    assert count == 1, "the unit must have exactly one ExecStart running the installed binary"
    unit = tmp_path / "aggregator.service"
    unit.write_text(text, encoding="utf-8")
    return unit


@linux_only
def test_systemd_analyze_verify(checkable_unit: Path) -> None:
    exe = _systemd_analyze()
    result = _run(exe, "verify", str(checkable_unit))
    output = (result.stdout + result.stderr).strip()
    print(f"systemd-analyze verify (exit {result.returncode}): {output or '<no output>'}")
    # Warnings about other units installed on this machine are not ours to fix.
    ours = [
        line
        for line in output.splitlines()
        if str(checkable_unit) in line or "aggregator.service" in line
    ]
    assert not ours, "\n".join(ours)
    assert result.returncode == 0, output


@linux_only
def test_systemd_analyze_security_exposure(checkable_unit: Path) -> None:
    exe = _systemd_analyze()
    version = _systemd_version(exe)
    if version < 250:
        pytest.skip(f"systemd {version}: `security --offline` needs systemd 250 or later")
    result = _run(exe, "security", "--offline=yes", "--no-pager", str(checkable_unit))
    output = result.stdout + result.stderr
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", output)
    assert match, output
    exposure = float(match[1])
    failing = [line for line in output.splitlines() if line.lstrip().startswith("✗")]
    print(f"systemd {version}: exposure {exposure}; not applied:\n" + "\n".join(failing))
    assert exposure <= MAX_EXPOSURE, output
