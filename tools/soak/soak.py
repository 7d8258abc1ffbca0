"""Soak the chat app: N clients asking for M minutes on 127.0.0.1, server RSS each minute.

    python tools/soak/soak.py [--clients 20] [--minutes 5] [--port 0]   (`make soak`)

Starts `ncpi-qa app` on loopback over the index that `ncpi-qa index` built (NCPI_QA_STORE_DIR),
sends questions through Gradio's client API (`/ask`, the chat's own handler), and prints one
JSON object: requests, errors, p50/p95 latency, and the server's RSS sampled every minute, with
the growth after the first minute. Traffic stays on this machine; every loop is bounded in
time and stops by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

QUESTIONS = [
    "How many inspections does the 2019 report draw on?",
    "When did HMICFRS begin its national programme of child protection inspections?",
    "Who carries out joint targeted area inspections with HMICFRS?",
    "What does JTAI stand for?",
    "How many reviews of forces did HMICFRS complete?",
    "What is the capital of Australia?",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_serving(url: str, proc, timeout: float = 180) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"the app exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("the app did not start serving in time")


def main(argv=None) -> int:
    import psutil
    from gradio_client import Client

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args(argv)
    port = args.port or free_port()
    url = f"http://127.0.0.1:{port}/"
    exe = Path(sys.executable).with_name("ncpi-qa")
    cmd = [str(exe), "app", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_serving(url, proc)
        server = psutil.Process(proc.pid)
        end = time.monotonic() + args.minutes * 60
        lat, errors, lock = [], [], threading.Lock()

        def client(seed: int) -> None:
            rng, c = random.Random(seed), Client(url, verbose=False)
            while time.monotonic() < end:
                t = time.perf_counter()
                try:
                    c.predict(rng.choice(QUESTIONS), [], api_name="/ask")
                    with lock:
                        lat.append((time.perf_counter() - t) * 1000)
                except Exception as e:  # counted, reported, never retried
                    with lock:
                        errors.append(f"{type(e).__name__}: {str(e)[:120]}")

        threads = [
            threading.Thread(target=client, args=(i,), daemon=True) for i in range(args.clients)
        ]
        for th in threads:
            th.start()
        rss = [round(server.memory_info().rss / 2**20, 1)]
        while time.monotonic() < end:
            time.sleep(min(60.0, max(0.0, end - time.monotonic())))
            rss.append(round(server.memory_info().rss / 2**20, 1))
        for th in threads:
            th.join(timeout=120)
        q = statistics.quantiles(lat, n=20) if len(lat) >= 20 else [None] * 19
        after_first = rss[1:] if len(rss) > 2 else rss
        out = {
            "clients": args.clients,
            "minutes": args.minutes,
            "requests": len(lat) + len(errors),
            "errors": len(errors),
            "error_samples": errors[:5],
            "latency_ms": {"p50": q[9] and round(q[9], 1), "p95": q[18] and round(q[18], 1)},
            "rss_mb_each_minute": rss,
            "rss_growth_after_first_minute": round(after_first[-1] / after_first[0] - 1, 4),
            "machine": {"cores": os.cpu_count()},
        }
        print(json.dumps(out, indent=2))
        return 0 if not errors else 1
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    sys.exit(main())
