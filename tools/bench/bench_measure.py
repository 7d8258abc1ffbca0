"""Measuring for ``ncpi-qa bench``: timers that notice a shared machine, latency summaries, the
machine's description, and dev-set hits (percentiles and support spans come from the evals)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

from ncpi_qa.evals.metrics import locate_support, overlaps, percentile


def stop(proc, grace: float) -> None:
    """Stop a child process: SIGTERM, then SIGKILL if it is still there after ``grace`` s."""
    import subprocess

    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()


def summarize(values) -> dict:
    """p50 / p95 / mean (2 decimals) and the count; None where there are no values."""
    return {
        "p50": percentile(list(values), 50),
        "p95": percentile(list(values), 95),
        "mean": round(float(np.mean(values)), 2) if len(values) else None,
        "n": len(values),
    }


def rate(n: float, seconds: float | None) -> float | None:
    return round(n / seconds, 2) if seconds else None


def status_mb(field: str) -> float | None:
    """A memory field of /proc/self/status (VmHWM: peak RSS) in MB; None off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def _cpu_pressure_us() -> int | None:
    try:
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0]
        return int(some.rsplit("total=", 1)[1])
    except (OSError, IndexError, ValueError):
        return None


class Meter:
    """Wall and CPU seconds of a block, its peak RSS (VmHWM, reset on entry via clear_refs),
    and CPU pressure: the share of the block's time some task waited for a CPU (Linux PSI),
    which flags timings taken while other work shared the machine."""

    def __enter__(self) -> Meter:
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            pass
        self._p, self._c, self._w = _cpu_pressure_us(), time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self._w
        self.cpu = time.process_time() - self._c
        p = _cpu_pressure_us()
        self.pressure = (
            round((p - self._p) / 1e6 / self.wall, 2)
            if p is not None and self._p is not None and self.wall
            else None
        )
        self.peak_mb = status_mb("VmHWM")


def machine() -> dict:
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    cpu = next(
        (ln.split(":", 1)[1].strip() for ln in info.splitlines() if ln.startswith("model name")),
        "unknown",
    )
    mem = next(
        (
            int(ln.split()[1])
            for ln in Path("/proc/meminfo").read_text().splitlines()
            if ln.startswith("MemTotal")
        ),
        0,
    )
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "mem_gib": round(mem / 2**20, 1),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": sys.version.split()[0],
    }


def shipped_only(documents: dict, sources) -> dict:
    """The documents (doc_id -> Document) copied in from the shipped corpus: a dev row's
    support is looked for there, not in the generated reports."""
    sources = set(sources)
    return {k: d for k, d in documents.items() if d.source in sources}


def hit(support: list[tuple[str, int, int]], retrieved) -> bool:
    """Some retrieved (doc_id, start, end) overlaps a location of the support quote."""
    return any(
        d == sd and overlaps((s, e), (ss, se)) for sd, ss, se in support for d, s, e in retrieved
    )


def dev_hits(rows: list[dict], documents: dict, retrieved: list) -> list[bool]:
    """For each dev row, whether its retrieved spans (``retrieved[i]``) hit its support."""
    return [
        hit(locate_support(row["support"], documents), spans)
        for row, spans in zip(rows, retrieved, strict=False)
    ]


def before_after_args(description: str, argv: list[str] | None):
    """The flags of a before/after comparison (cold_start.py, bench_upload.py)."""
    import argparse

    p = argparse.ArgumentParser(description=description)
    p.add_argument("--before", required=True, help="the commit to compare with")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--json", action="store_true")
    return p.parse_args(argv)


def checkout_app(commit: str, dest: Path) -> Path:
    """That commit's ``app/`` (``git archive``) under ``dest``; returns the folder to put first
    on PYTHONPATH so that its ncpi_qa is imported instead of this checkout's."""
    import subprocess

    root = Path(__file__).resolve().parents[2]
    dest.mkdir(parents=True, exist_ok=True)
    tar = subprocess.run(["git", "-C", str(root), "archive", commit, "app"],
                         check=True, capture_output=True).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(dest)], input=tar, check=True)
    return dest / "app"
