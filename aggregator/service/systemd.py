"""A minimal ``sd_notify(3)`` client for running under systemd with ``Type=notify``.

The protocol is one datagram of newline-separated ``KEY=VALUE`` pairs sent to the
``AF_UNIX`` socket named by ``$NOTIFY_SOCKET`` (a leading ``@`` means the Linux abstract
namespace). That is a dozen lines, so it is written here rather than pulling in
``systemd-python`` (needs libsystemd headers to build) or ``sdnotify`` (unmaintained) as a
dependency.

Every function is a no-op returning ``False`` when not started by systemd, and none of them
raises on socket errors: a lost notification must never take the daemon down (systemd will
notice a missing ``READY=1`` or ``WATCHDOG=1`` on its own and act on it).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

__all__ = ["notify", "ready", "status", "stopping", "watchdog", "watchdog_interval"]

log = logging.getLogger(__name__)


def _address(value: str) -> str | None:
    if value.startswith("@"):
        # Python binds/sends to the abstract namespace when the path starts with NUL.
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    # Newer systemd may hand out ``vsock:`` addresses (VMs); not used for host services.
    return None


def notify(state: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send ``state`` (e.g. ``"READY=1"``) to systemd; ``True`` if the datagram was sent."""
    env = os.environ if environ is None else environ
    raw = env.get("NOTIFY_SOCKET", "")
    if not raw:
        return False
    address = _address(raw)
    if address is None:
        log.debug("sd_notify: unsupported NOTIFY_SOCKET %r", raw)
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(state.encode("utf-8"))
    except OSError as exc:
        log.debug("sd_notify %r to %r failed: %s", state, raw, exc)
        return False
    return True


def ready(environ: Mapping[str, str] | None = None) -> bool:
    """Start-up is complete: ``systemctl start`` returns and dependants may start."""
    return notify("READY=1", environ)


def stopping(environ: Mapping[str, str] | None = None) -> bool:
    """Shutdown has begun, so systemd shows "deactivating" instead of a hung service."""
    return notify("STOPPING=1", environ)


def watchdog(environ: Mapping[str, str] | None = None) -> bool:
    """Keep-alive for ``WatchdogSec=``; call it from the loop that proves liveness."""
    return notify("WATCHDOG=1", environ)


def status(text: str, environ: Mapping[str, str] | None = None) -> bool:
    """One-line status shown by ``systemctl status``."""
    # A newline would start a new KEY=VALUE assignment, letting text forge other states.
    return notify("STATUS=" + " ".join(text.splitlines()), environ)


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between ``WATCHDOG=1`` pings, or ``None`` if no watchdog applies to us.

    Half of ``$WATCHDOG_USEC``, as ``sd_watchdog_enabled(3)`` recommends, so one late ping
    is not fatal. ``$WATCHDOG_PID``, when set, must be our pid: the variables are inherited
    by child processes, which must not think they are being watched.
    """
    env = os.environ if environ is None else environ
    usec_text = env.get("WATCHDOG_USEC")
    if not usec_text:
        return None
    pid_text = env.get("WATCHDOG_PID")
    if pid_text:
        try:
            if int(pid_text) != os.getpid():
                return None
        except ValueError:
            return None
    try:
        usec = int(usec_text)
    except ValueError:
        return None
    if usec <= 0:
        return None
    return usec / 2 / 1_000_000
