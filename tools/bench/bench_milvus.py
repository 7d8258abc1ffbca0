"""The Milvus backend in the benchmark (issue 19): the same corpus and questions as the FAISS
rows, indexed into a local ``milvus-lite server`` (127.0.0.1, a free port, data in the run's
temp folder) from the FAISS build's vector cache, so "index s" is the write into Milvus (the
embedding is the FAISS row's: both backends embed the same texts once). Then the same asks,
timed the same way, and how many answers equal the FAISS ones. Needs the ``milvus`` extra."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path


def available() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("pymilvus", "milvus_lite"))


def start_server(data: Path) -> tuple[subprocess.Popen, str]:
    from pymilvus import MilvusClient

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(data),
           "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    uri, t0 = f"http://127.0.0.1:{port}", time.monotonic()
    while True:
        if proc.poll() is not None or time.monotonic() - t0 > 120:
            raise RuntimeError(f"milvus-lite server did not start (exit {proc.poll()})")
        try:
            MilvusClient(uri=uri, timeout=2).list_collections()
            return proc, uri
        except Exception:
            time.sleep(0.2)


def _rss_mb(pid: int) -> float | None:
    try:
        import psutil

        return round(psutil.Process(pid).memory_info().rss / 2**20, 1)
    except Exception:
        return None


def phase_milvus(p: dict) -> dict:
    from bench_measure import Meter, rate, stop, summarize
    from bench_phases import _embedder

    from ncpi_qa.index.store import build_index
    from ncpi_qa.qa.pipeline import QA
    from ncpi_qa.settings import Settings

    work = Path(p["store"] + "-milvus")
    shutil.copytree(Path(p["store"]) / "cache", work / "store" / "cache")
    server, uri = start_server(work / "data")
    try:
        s = Settings(corpus_dir=p["corpus"], store_dir=work / "store", vector_store="milvus",
                     milvus_uri=uri, milvus_collection_prefix="bench",
                     sentence_vectors="separate")  # as the build phase's cache  # fmt: skip
        emb, quiet = _embedder(p), (lambda m: None)
        with Meter() as m_index:
            rep = build_index(s, embedder=emb, log=quiet)
        with Meter() as m_noop:
            noop = build_index(s, embedder=emb, log=quiet)
        ask_emb = emb if p["vectors"] == "hash" else None
        with Meter() as m_load:
            qa = QA(s, embedder=ask_emb)
        files = QA(Settings(store_dir=p["store"]), embedder=qa.embedder)
        for q in p["questions"][:5]:
            qa.ask(q)
        stages = {"retrieve": [], "answer": [], "total": []}
        answers = []
        with Meter() as m_ask:
            for q in p["questions"]:
                r = qa.ask(q)
                for key in stages:
                    stages[key].append(r.timings_ms[key])
                answers.append((r.text, r.abstained, [c.chunk_id for c in r.citations]))
        same, compared = 0, min(len(answers), 50)  # the FAISS side on the first 50 only
        for q, mine in zip(p["questions"][:compared], answers, strict=False):
            r = files.ask(q)
            same += mine == (r.text, r.abstained, [c.chunk_id for c in r.citations])
        out = {f"{k}_ms": summarize(v) for k, v in stages.items()}
        out["ask_ms"] = out.pop("total_ms")
        out.update(
            chunks=rep.n_chunks, texts_embedded=rep.texts_embedded,
            index_s=round(m_index.wall, 2), index_chunks_per_s=rate(rep.n_chunks, m_index.wall),
            reindex_noop_s=round(m_noop.wall, 3), reindex_noop_up_to_date=noop.up_to_date,
            store_load_s=round(m_load.wall, 2), ask_cpu_pressure=m_ask.pressure,
            same_answers_as_faiss=f"{same}/{compared}",
            server_rss_mb=_rss_mb(server.pid), server="milvus-lite server (local stand-in)",
            index=qa.store.manifest.milvus_index,
        )  # fmt: skip
        return out
    finally:
        stop(server, 15)
        shutil.rmtree(work, ignore_errors=True)
