"""Memory of a process together with its children (the collector and the importer write from a child process)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path


def descendants(pid: int) -> list[int]:
    """Every live descendant of a process (children of all its threads, recursively)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                kids = [int(k) for k in task.read_text().split()]
            except OSError:
                continue
            found.extend(kids)
            todo.extend(kids)
    return found


def rss_mb(pid: int) -> float:
    """Resident memory of one process (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, IndexError, ValueError):
        return 0.0


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process plus all its descendants, in MB."""
    return sum(rss_mb(p) for p in [pid, *descendants(pid)])


def run_measured(cmd: list[str], interval_s: float = 0.02) -> tuple[float, float, int]:
    """(seconds, peak RSS of the whole process tree in MB, exit status) of one command, sampled every interval."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0.0
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss_mb(proc.pid))
            done.wait(interval_s)

    sampler = threading.Thread(target=watch, daemon=True)
    sampler.start()
    _out, err = proc.communicate()
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    if proc.returncode:
        print(f"  {cmd[0]}: {err.decode(errors='replace').strip()[-400:]}")
    return elapsed, peak, proc.returncode
