"""Machine description and CPU-contention measurement shared by the benchmark scripts."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import time

import jax
import numpy as np

import jqgen


def environment() -> dict:
    """Device, CPU, core count, library versions, git state and date."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    dev = jax.devices()[0]
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "platform": dev.platform, "device": dev.device_kind, "cpu_model": cpu,
        "cpu_count": os.cpu_count(), "cpu_affinity": affinity, "python": platform.python_version(),
        "loadavg_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "jax": jax.__version__, "jqgen": jqgen.__version__, "numpy": np.__version__, "git": git_state(),
    }


def git_state() -> dict | None:
    """Commit of the repository and whether the sweep sources differ from it."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                                timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "jqgen"], cwd=root, capture_output=True,
                               text=True, timeout=10).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit or None, "modified_jqgen_files": [ln[3:] for ln in dirty if ln.strip()]}


def busy_cpu_s() -> float | None:
    """Seconds of CPU time used by the whole machine so far (``/proc/stat``), or None."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait


class OtherCPU:
    """CPU seconds used by other processes between ``start()`` and ``stop()``."""

    def start(self) -> "OtherCPU":
        self.b0, self.c0 = busy_cpu_s(), time.process_time()
        return self

    def stop(self) -> float | None:
        b = busy_cpu_s()
        if b is None or self.b0 is None:
            return None
        return round(max(0.0, (b - self.b0) - (time.process_time() - self.c0)), 2)


def write_text(path: str | None, text: str) -> None:
    """Writes ``text`` (plus a newline) to ``path``, creating its folder; nothing for None."""
    if not path:
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write(text + "\n")
