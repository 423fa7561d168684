"""A process tree's CPU time and resident memory, read from /proc (Linux): what the daemon
benchmarks sample every second. A daemon's extraction workers are its children, so the tree,
not the process, is what the shipped unit's MemoryMax limits.

Two sums of memory: VmRSS counts every page a process maps, so a page shared by the daemon,
the fork server and the workers (libpython, lxml's and numpy's code, what the workers
inherited from the fork server) is counted once per process; PSS (proportional set size)
splits each shared page among its sharers, so the tree's PSS is what the kernel charges
the unit's cgroup for those processes (what MemoryMax limits), page cache aside."""

from __future__ import annotations

import compileall
import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may contain spaces: split after it.
    return raw[raw.rindex(")") + 2 :].split()


def tree(root: int) -> list[int]:
    """``root`` and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def cpu_seconds(root: int) -> float:
    """CPU time of the tree: each live process's utime+stime and cutime+cstime (what its
    children that it has reaped used: a recycled extraction worker is reaped by the fork
    server, not by the daemon)."""
    total = 0
    for pid in tree(root):
        fields = _stat(pid)
        if fields is None:
            continue
        # After the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
        total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return total / TICKS


def rss_bytes(root: int) -> int:
    total = 0
    for pid in tree(root):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def _rollup(pid: int, key: str) -> int | None:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    return None


def pss_bytes(root: int) -> int:
    """The tree's proportional set size (see the module docstring); a process whose
    smaps_rollup cannot be read counts its RSS."""
    total = 0
    for pid in tree(root):
        pss = _rollup(pid, "Pss:")
        if pss is None:
            pss = _rollup(pid, "Rss:") or 0
        total += pss
    return total


def processes(root: int) -> list[tuple[int, str, int, int]]:
    """``(pid, command line, RSS, PSS)`` of each process of the tree."""
    out = []
    for pid in tree(root):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        out.append((pid, command.strip(), _rollup(pid, "Rss:") or 0, _rollup(pid, "Pss:") or 0))
    return out


def compile_package(package: Path) -> None:
    """Write the package's bytecode before its processes are measured, as ``pip install``
    does at install time: an editable checkout run with PYTHONDONTWRITEBYTECODE=1 (as on the
    sandboxes these benches ran on) otherwise compiles its modules from source in every
    process it starts, the daemon, each worker and each ``aggregator poll`` (about 0.1 s of
    a 0.9 s start-up)."""
    compileall.compile_dir(package, quiet=1)
