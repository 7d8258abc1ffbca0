"""`ncpi-qa bench`: indexing speed, ask latency, memory and cold start at about 1k, 20k and 200k
chunks, next to a plain llama-index pipeline (VectorStoreIndex, FaissVectorStore,
HuggingFaceEmbedding of the same bundled model) over the same chunks.

Parts that need their own memory peak run in child processes (``python tools/bench/bench.py
PHASE PARAMS.json``): ``build`` (index, re-index, raw encoder on the same texts), ``serve``
(load, 200 asks, dev hit@5, HNSW recall) in bench_phases, and ``peer`` in bench_peer. Corpora
go to a temp folder (bench_corpus); measuring helpers are in bench_measure, stand-in embedders
in bench_embedders, the report in bench_report. Above ``REAL_MAX`` chunks the index is built
from stand-in vectors (means of model vectors of the pool sentences a text is made of;
embedding 1.3M texts would take hours on a small CPU); questions are still embedded by the
real model. The output says so.
Env: NCPI_QA_BENCH_SIZES="1000,20000" picks sizes; NCPI_QA_BENCH_POOL caps the pool;
NCPI_QA_BENCH_FAKE=1 uses a hash-projection embedder everywhere, no peer, no cold start (smoke);
NCPI_QA_BENCH_PEER=0 leaves out the llama-index peer, NCPI_QA_BENCH_MILVUS=0 the Milvus
backend; NCPI_QA_BENCH_QUESTIONS=N asks N
questions (200). With the ``milvus`` extra installed, each
size is also indexed into and asked through a local milvus-lite server (bench_milvus).
The llama-index peer needs the ``bench`` extra; ``main`` checks it before anything runs.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SIZES = (1_000, 20_000, 200_000)
REAL_MAX = 1_000  # up to this many chunks the index is built with the real model
N_QUESTIONS = 200
SERVE_FP32_AT = (20_000,)  # sizes whose asks are also timed with NCPI_QA_PRECISION=fp32
# The `bench` extra (pyproject.toml) and what else a run imports: module -> pip package.
EXTRA = {
    "llama_index.core": "llama-index-core",
    "llama_index.vector_stores.faiss": "llama-index-vector-stores-faiss",
    "llama_index.embeddings.huggingface": "llama-index-embeddings-huggingface",
}
ALWAYS = {"sklearn": "scikit-learn", "scipy": "scipy", "matplotlib": "matplotlib"}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _env(**extra) -> dict:
    offline = dict(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1")
    return {**os.environ, **offline, "TOKENIZERS_PARALLELISM": "false",
            "GRADIO_ANALYTICS_ENABLED": "False", **extra}  # fmt: skip


def fake() -> bool:
    return os.environ.get("NCPI_QA_BENCH_FAKE", "") not in ("", "0")


def missing(modules) -> list[str]:
    """The modules that cannot be imported here (found without importing them)."""
    out = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except ImportError:  # a parent package is missing
            found = False
        if not found:
            out.append(name)
    return out


def peer_on() -> bool:
    """NCPI_QA_BENCH_PEER=0 leaves out the llama-index peer (and its extra)."""
    return os.environ.get("NCPI_QA_BENCH_PEER", "1") not in ("", "0")


def check_extra() -> None:
    """Fail at once, not after minutes of corpus building, when the packages a run needs (the
    llama-index peer's, unless faked) are not installed, and say how to install them."""
    from ncpi_qa.errors import NcpiError

    needed = {**ALWAYS, **({} if fake() or not peer_on() else EXTRA)}
    gone = missing(needed)
    if gone:
        packages = ", ".join(dict.fromkeys(needed[m] for m in gone))
        raise NcpiError(
            f"ncpi-qa bench needs packages that are not installed: {packages}. Run it with "
            "`make bench`, which installs the benchmark's extra (into .venv-bench, on top of "
            ".venv) first."
        )


def run_child(phase: str, params: dict, work: Path, timeout: float = 3600) -> dict:
    name = f"{phase}-{params['label']}"
    pfile, ofile, lfile = (work / f"{name}.{x}" for x in ("params.json", "out.json", "log"))
    pfile.write_text(json.dumps({**params, "out": str(ofile)}))
    t = time.perf_counter()
    with open(lfile, "w") as lf:
        cmd = [sys.executable, str(Path(__file__).resolve()), phase, str(pfile)]
        proc = subprocess.run(cmd, stdout=lf, stderr=subprocess.STDOUT, env=_env(),
                              timeout=timeout)  # fmt: skip
    if proc.returncode or not ofile.exists():
        tail = lfile.read_text(errors="ignore")[-3000:]
        raise RuntimeError(f"bench {name} failed (exit {proc.returncode}):\n{tail}")
    log(f"{name} done in {time.perf_counter() - t:.0f}s")
    return json.loads(ofile.read_text())


def child_main(argv: list[str]) -> int:
    """A child process: ``bench.py PHASE PARAMS.json`` writes the phase's result to params' out.
    ``params["env"]`` (e.g. ``{"NCPI_QA_PRECISION": "fp32"}``) is set before anything loads."""
    params = json.loads(Path(argv[1]).read_text())
    os.environ.update(params.get("env") or {})
    from bench_milvus import phase_milvus
    from bench_modes import phase_pooled, phase_reader
    from bench_peer import phase_peer
    from bench_phases import phase_build, phase_pool, phase_serve
    from bench_upload import phase_upload

    phases = {"build": phase_build, "serve": phase_serve, "peer": phase_peer, "pool": phase_pool,
              "milvus": phase_milvus, "pooled": phase_pooled, "reader": phase_reader,
              "upload": phase_upload}  # fmt: skip
    Path(params["out"]).write_text(json.dumps(phases[argv[0]](params)))
    return 0


def upload_arms(work: Path, pool: list[str]) -> dict:
    """The 24-page report PDF added to the shipped corpus and indexed as the chat indexes an
    upload, to its first answer: fp32, then the default precision (bench_upload.py)."""
    from bench_upload import make_pdf

    from ncpi_qa.settings import project_root

    pdf = make_pdf(work / "area-review-2026.pdf", pool[:4000])
    common = {"seed": str(project_root() / "corpus"), "pdf": str(pdf), "work": str(work / "up")}
    out = {}
    for arm, env in (("fp32", {"NCPI_QA_PRECISION": "fp32"}), ("default", {})):
        out[arm] = run_child("upload", {**common, "label": f"upload-{arm}", "env": env}, work)
    out["speedup"] = round(out["fp32"]["to_answerable_s"] / out["default"]["to_answerable_s"], 2)
    return out


# ----------------------------------------------------------------------------- cold starts
def _cli() -> list[str]:
    exe = Path(sys.executable).with_name("ncpi-qa")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "ncpi_qa.apps.cli"]


def cold_start_ask(env: dict, question: str, runs: int) -> dict:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        proc = subprocess.run(_cli() + ["ask", question, "--json"], capture_output=True,
                              text=True, env=env, timeout=300)  # fmt: skip
        times.append(round(time.perf_counter() - t, 2))
        if proc.returncode:
            return {"error": proc.stderr[-500:]}
    how = "`ncpi-qa ask QUESTION --json` as a subprocess, wall clock, median"
    return {"s": round(float(np.median(times)), 2), "runs_s": times, "method": how}


def cold_start_app(env: dict, question: str, timeout: float = 180) -> dict:
    """Start `ncpi-qa app`, poll HTTP until it serves, then get one answer via gradio_client
    (endpoint /ask, else the first named endpoint that takes the question)."""
    import urllib.request

    from gradio_client import Client  # imported before the clock starts: the client's cost

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url, t0 = f"http://127.0.0.1:{port}/", time.perf_counter()
    cmd = _cli() + ["app", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if proc.poll() is not None or time.perf_counter() - t0 > timeout:
                return {"error": f"app not serving (exit {proc.poll()})"}
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        serving = round(time.perf_counter() - t0, 2)
        client, errors = Client(url, verbose=False), []
        api = client.view_api(print_info=False, return_format="dict") or {}
        for name in sorted(api.get("named_endpoints", {}), key=lambda n: n != "/ask"):
            try:
                if client.predict(question, api_name=name):
                    s, how = round(time.perf_counter() - t0, 2), "`ncpi-qa app` subprocess, "
                    how += "HTTP poll until it serves, first answer via gradio_client"
                    return {"s": s, "serving_s": serving, "endpoint": name, "method": how}
            except Exception as e:  # try the next endpoint
                errors.append(f"{name}: {type(e).__name__}: {str(e)[:120]}")
        return {"error": "no endpoint answered", "serving_s": serving, "tried": errors[:5]}
    finally:
        from bench_measure import stop

        stop(proc, 10)


def cold_start_apps(env: dict, question: str, runs: int) -> dict:
    """``cold_start_app`` ``runs`` times: the median, each run, and any run's error."""
    got = [cold_start_app(env, question) for _ in range(runs)]
    ok = [g for g in got if "s" in g]
    if not ok:
        return got[0]
    med = sorted(ok, key=lambda g: g["s"])[len(ok) // 2]
    return {**med, "s": round(float(np.median([g["s"] for g in ok])), 2),
            "runs_s": [g.get("s") for g in got],
            "serving_runs_s": [g.get("serving_s") for g in got],
            "method": med["method"] + ", median"}  # fmt: skip


# ----------------------------------------------------------------------------- orchestration
def run(quick: bool) -> dict:
    import bench_milvus
    from bench_corpus import CorpusGenerator, dev_rows, make_questions, sentence_pool, write_corpus
    from bench_measure import machine
    from bench_report import notes, ratios, targets

    from ncpi_qa.settings import project_root

    t_start, root, work = time.perf_counter(), project_root(), Path(tempfile.mkdtemp())
    env_sizes = os.environ.get("NCPI_QA_BENCH_SIZES")
    sizes = [int(x) for x in env_sizes.split(",")] if env_sizes else SIZES[: 1 if quick else 3]
    try:
        cmd = "ncpi-qa bench" + " --quick" * quick
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        result = {"machine": machine(), "command": cmd, "started": when, "sizes": [], "notes": []}
        milvus_ok = bench_milvus.available() and os.environ.get("NCPI_QA_BENCH_MILVUS") != "0"
        if not milvus_ok:
            result["notes"].append("Milvus not measured: the milvus extra is not installed "
                                   "or NCPI_QA_BENCH_MILVUS=0.")  # fmt: skip
        pool = sentence_pool(int(os.environ.get("NCPI_QA_BENCH_POOL", 60_000)))
        shipped = root / "corpus"
        dev = dev_rows(root)
        n_questions = int(os.environ.get("NCPI_QA_BENCH_QUESTIONS", N_QUESTIONS))
        questions = make_questions(CorpusGenerator(pool, seed=7), dev, n_questions)
        sources = [p.name for p in shipped.iterdir() if p.is_file()]
        common = dict(pool=str(work / "pool.json"), dev=dev, questions=questions, sources=sources,
                      pool_vectors=str(work / "pool_vectors.npy"), label="pool")  # fmt: skip
        params, kind = {}, lambda n: "hash" if fake() else ("real" if n <= REAL_MAX else "pool")
        for n in sizes:
            corpus, store = work / f"corpus-{n}", work / f"store-{n}"
            info = write_corpus(corpus, n, pool, shipped, seed=n)
            log(f"{n}: wrote {info['files']} files, {info['chars'] / 1e6:.1f} M chars")
            if not (work / "pool.json").exists():  # pool sentences, then the fixed splices
                (work / "pool.json").write_text(json.dumps(pool + info["splices"]))
            if kind(n) == "pool" and "pool_embedding" not in result:
                result["pool_embedding"] = run_child("pool", common, work)
            p = params[n] = {**common, "label": str(n), "corpus": str(corpus),
                             "store": str(store), "vectors": kind(n),
                             "raw_fraction": 0.1 if quick else 1.0}  # fmt: skip
            fp32 = {"NCPI_QA_PRECISION": "fp32"}  # the baseline arm of the precision setting
            if kind(n) == "real":  # the same corpus in fp32 first, into a store of its own
                before = {**p, "label": f"{n}-fp32", "store": p["store"] + "-fp32", "env": fp32}
                size_fp32 = run_child("build", before, work)
            size = {"target_chunks": n, **run_child("build", p, work)}
            if kind(n) == "real":  # the same corpus, sentence vectors pooled (issue 27)
                size["fp32"] = size_fp32
                size["pooled"] = run_child("pooled", p, work)
            size.update(run_child("serve", p, work))
            if kind(n) != "hash" and n in SERVE_FP32_AT:  # the reader and query encoder in fp32
                size["serve_fp32"] = run_child("serve", {**p, "label": f"{n}-fp32", "env": fp32},
                                               work)  # fmt: skip
                every_core = {"NCPI_QA_ASK_THREADS": "0"}  # torch's default threads per ask
                size["serve_threads_default"] = run_child(
                    "serve", {**p, "label": f"{n}-threads", "env": every_core}, work
                )
            if milvus_ok:  # the Milvus backend on the same corpus and questions
                try:  # a failed Milvus phase (a killed server) costs its row, not the run
                    size["milvus"] = run_child("milvus", p, work)
                except (RuntimeError, subprocess.TimeoutExpired) as e:
                    result["notes"].append(f"Milvus at {n} chunks not measured: {str(e)[:300]}")
            size["peak_rss_mb"] = max(size["peak_rss_index_mb"], size["peak_rss_serve_mb"])
            result["sizes"].append(size)
        result["cold_start_s"], result["peer"] = {"ask": None, "app": None}, {}
        if not fake():
            peers = {}
            for n, p in params.items() if peer_on() else ():
                sample = 100 if quick else (None if p["vectors"] == "real" else 200)
                peers[str(n)] = run_child("peer", {**p, "embed_sample": sample}, work)
            result["peer"], result["peer_by_size"] = peers.get(str(sizes[0]), {}), peers
            p, q = params[sizes[0]], (dev[0]["question"] if dev else questions[0])
            env = _env(NCPI_QA_CORPUS_DIR=p["corpus"], NCPI_QA_STORE_DIR=p["store"])
            log("cold starts")
            runs = 2 if quick else 3
            ask, app = cold_start_ask(env, q, runs), cold_start_apps(env, q, runs)
            result["cold_start_s"] = {"ask": ask.get("s"), "app": app.get("s")}
            result["cold_start_detail"] = {"ask": ask, "app": app}
            log("reader fp32 vs bf16 vs int8")
            result["reader"] = run_child("reader", {**common, "label": "reader"}, work)
            result["upload"] = upload_arms(work, pool)
        result["ratios"], result["targets"] = ratios(result), targets(result)
        result["notes"] += notes(result, quick)
        result["total_s"] = round(time.perf_counter() - t_start, 1)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(args) -> int:
    """`ncpi-qa bench [--quick] [--json]` (apps/cli.py hands over here)."""
    from ncpi_qa.settings import project_root

    check_extra()
    quick = bool(getattr(args, "quick", False))
    result = run(quick)
    if not quick and not fake() and not os.environ.get("NCPI_QA_BENCH_SIZES"):
        from bench_report import write_docs

        write_docs(result, project_root() / "docs")
        log("wrote docs/benchmarks.md and docs/benchmarks.png")
    brief = ("sizes", "cold_start_s", "peer", "ratios", "targets", "notes", "total_s")
    keep = result if getattr(args, "json", False) else {k: result[k] for k in brief}
    print(json.dumps(keep, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
