"""`ncpi-qa bench`: indexing speed, ask latency, memory and cold start at about 1k, 20k and 200k
chunks, next to a plain llama-index pipeline (VectorStoreIndex, FaissVectorStore,
HuggingFaceEmbedding of the same bundled model) over the same chunks.

Parts that need their own memory peak run in child processes (``python -m ncpi_qa.bench
PHASE PARAMS.json``): ``build`` (index, re-index, raw encoder on the same texts), ``serve``
(load, 200 asks, dev hit@5, HNSW recall) and ``peer``. Corpora go to a temp folder (see
bench_corpus). Above ``REAL_MAX`` chunks the index is built from stand-in vectors (means of
model vectors of the pool sentences a text is made of; embedding 1.3M texts would take hours
on a small CPU); questions are still embedded by the real model. The output says so.
Env: NCPI_QA_BENCH_SIZES="1000,20000" picks sizes; NCPI_QA_BENCH_POOL caps the pool;
NCPI_QA_BENCH_FAKE=1 uses a hash-projection embedder everywhere, no peer, no cold start (smoke).
"""

from __future__ import annotations

import json
import os
import random
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
ASK_P95_MS = {20_000: 60.0, 200_000: 100.0}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _env(**extra) -> dict:
    offline = dict(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1")
    return {**os.environ, **offline, "TOKENIZERS_PARALLELISM": "false",
            "GRADIO_ANALYTICS_ENABLED": "False", **extra}  # fmt: skip


def fake() -> bool:
    return os.environ.get("NCPI_QA_BENCH_FAKE", "") not in ("", "0")


def _embedder(p: dict):
    """The real model (small sizes), the pool-mean stand-in (large), or, faked, the hash one."""
    from bench_corpus import HashProjectionEmbedder, PoolEmbedder

    from ncpi_qa.index.embedding import get_embedder

    if p["vectors"] == "pool":
        texts = json.loads(Path(p["pool"]).read_text())
        return PoolEmbedder(texts, np.load(p["pool_vectors"]), get_embedder())
    return get_embedder() if p["vectors"] == "real" else HashProjectionEmbedder()


def phase_pool(p: dict) -> dict:
    """Embed every pool sentence (and splice) once with the real model, for PoolEmbedder."""
    from bench_corpus import Meter, rate

    from ncpi_qa.index.embedding import get_embedder

    texts, model = json.loads(Path(p["pool"]).read_text()), get_embedder()
    with Meter() as m:
        vectors = model.encode(texts)
    np.save(p["pool_vectors"], vectors)
    return {"texts": len(texts), "s": round(m.wall, 2), "texts_per_s": rate(len(texts), m.wall),
            "cpu_pressure": m.pressure}  # fmt: skip


# ----------------------------------------------------------------------------- child phases
def phase_build(p: dict) -> dict:
    """Raw encode, index from scratch, re-index unchanged, raw encode again (the two raw runs
    bracket the build, against machine noise), chunk-only raw encode, one file changed."""
    import gc

    from bench_corpus import Meter, TimedEmbedder, corpus_texts, count_tokens, rate
    from bench_corpus import touch_one_file as touch

    from ncpi_qa.index.store import build_index
    from ncpi_qa.settings import Settings

    inner, settings = _embedder(p), Settings(corpus_dir=p["corpus"], store_dir=p["store"])
    frac = p.get("raw_fraction") or 1.0  # quick: raw encoder timed on samples, scaled up

    def raw(items: list[str], seed: int) -> tuple[float, float, float | None]:
        k = len(items) if frac >= 1 else max(1, round(len(items) * frac))
        with Meter() as m:
            inner.encode(items if k == len(items) else random.Random(seed).sample(items, k))
        return m.wall * len(items) / k, m.cpu * len(items) / k, m.pressure

    chunk_texts, sent_texts = corpus_texts(settings)
    raw1 = raw(chunk_texts + sent_texts, 1)
    del chunk_texts, sent_texts
    gc.collect()
    emb, quiet = TimedEmbedder(inner), (lambda m: None)
    with Meter() as m_index:
        rep = build_index(settings, embedder=emb, log=quiet)
    t_encode = emb.seconds
    with Meter() as m_noop:
        noop = build_index(settings, embedder=emb, log=quiet)
    chunk_texts, sent_texts = corpus_texts(settings)
    texts = chunk_texts + sent_texts
    assert len(texts) == rep.texts_embedded, (len(texts), rep.texts_embedded)
    tokens, estimated = count_tokens(texts)
    raw2, chunk_only = raw(texts, 2), raw(chunk_texts, 3)
    touch(Path(p["corpus"]), json.loads(Path(p["pool"]).read_text()))
    with Meter() as m_changed:
        changed = build_index(settings, embedder=emb, log=quiet)
    n, t_index = rep.n_chunks, m_index.wall
    # The raw encoder reference: the run less disturbed by other work, or both runs' mean.
    calm = min((raw1, raw2), key=lambda r: r[2] or 0)
    if abs((raw1[2] or 0) - (raw2[2] or 0)) < 0.05:
        calm = ((raw1[0] + raw2[0]) / 2, (raw1[1] + raw2[1]) / 2, None)
    t_enc, cpu_enc = calm[:2]
    return {
        "chunks": n, "sentences": rep.n_sentences, "texts_embedded": len(texts),
        "tokens": tokens, "tokens_estimated": estimated, "embedder": inner.name,
        "vectors": p["vectors"], "model_encoded": getattr(inner, "model_encoded", None),
        "index_s": round(t_index, 2), "index_chunks_per_s": rate(n, t_index),
        "index_tokens_per_s": rate(tokens, t_index), "encode_in_index_s": round(t_encode, 2),
        "index_overhead_s": round(t_index - t_encode, 2), "encoder_s": round(t_enc, 2),
        "encoder_runs_s": [round(raw1[0], 2), round(raw2[0], 2)],
        "encoder_texts_per_s": rate(len(texts), t_enc), "encoder_chunks_per_s": rate(n, t_enc),
        "encoder_tokens_per_s": rate(tokens, t_enc),
        "chunk_only_encoder_chunks_per_s": rate(n, chunk_only[0]),
        "index_vs_encoder": round(t_enc / t_index, 3),
        "index_vs_encoder_cpu": round(cpu_enc / m_index.cpu, 3),
        "index_vs_encoder_in_run": round(t_encode / t_index, 3),
        "index_vs_chunk_only_encoder": round(chunk_only[0] / t_index, 3),
        "cpu_pressure": {"encoder_runs": [raw1[2], raw2[2]], "index": m_index.pressure},
        "reindex_noop_s": round(m_noop.wall, 3), "reindex_noop_up_to_date": noop.up_to_date,
        "reindex_one_changed_s": round(m_changed.wall, 2),
        "reindex_one_changed_texts_embedded": changed.texts_embedded,
        "peak_rss_index_mb": m_index.peak_mb,
    }  # fmt: skip


def phase_serve(p: dict) -> dict:
    """Load the store, ask every question (after 5 warm-up asks), score dev hit@5, and
    measure HNSW recall when the index is HNSW."""
    from bench_corpus import Meter, _status_mb, locate, overlaps, summarize

    from ncpi_qa.index.store import Store
    from ncpi_qa.qa.pipeline import QA
    from ncpi_qa.settings import Settings

    with Meter() as m_load:
        store = Store.load(Path(p["store"]))
    emb = _embedder(p) if p["vectors"] == "hash" else None  # None: the app's query encoder
    qa = QA(Settings(store_dir=p["store"]), store=store, embedder=emb)
    for q in p["questions"][:5]:
        qa.ask(q)
    stages, spans = {"retrieve": [], "answer": [], "total": [], "wall": []}, []
    with Meter() as m_ask:
        for q in p["questions"]:
            t = time.perf_counter()
            r = qa.ask(q).to_dict()
            stages["wall"].append((time.perf_counter() - t) * 1000)
            for key in ("retrieve", "answer", "total"):
                stages[key].append(r["timings_ms"][key])
            spans.append([(x["doc_id"], x["start"], x["end"]) for x in r["passages"]])
    out = {f"{k}_ms": summarize(v) for k, v in stages.items()}
    out["ask_ms"] = out.pop("total_ms")
    out.update(
        store_load_s=round(m_load.wall, 2),
        faiss=store.manifest.get("faiss"),
        ask_cpu_pressure=m_ask.pressure,
        peak_rss_serve_mb=_status_mb("VmHWM"),
    )
    if p["vectors"] != "hash":
        docs = [(d.doc_id, d.source, d.text) for d in store.documents.values()]
        hits: dict[str, list[bool]] = {"hybrid": [], "dense": [], "bm25": []}
        for i, row in enumerate(p["dev"]):
            loc = locate(docs, row["support"], set(p["sources"]))
            hits["hybrid"].append(overlaps(loc, spans[i]))
            for mode in ("dense", "bm25"):
                found = qa.retriever.search(row["question"], 5, mode=mode)
                chunks = [store.chunks[h.index] for h in found]
                hits[mode].append(overlaps(loc, [(c.doc_id, c.start, c.end) for c in chunks]))
        out["dev_hit_at_5"] = {m: round(float(np.mean(v)), 3) for m, v in hits.items() if v}
    if out["faiss"] == "hnsw" or len(store.chunks) >= 100_000:
        out["hnsw"] = hnsw_recall(store, qa.embedder.encode(p["questions"]))
    return out


def hnsw_recall(store, qv: np.ndarray) -> dict:
    """recall@10 of the store's HNSW index against exact search for the questions' vectors;
    a returned chunk scoring a tie with the exact 10th counts as found."""
    import faiss

    vecs = np.load(store.path / "chunk_vectors.npy")
    exact = faiss.IndexFlatIP(vecs.shape[1])
    exact.add(vecs)
    qv = np.ascontiguousarray(qv, dtype=np.float32)
    kth = exact.search(qv, 10)[0][:, -1:] - 1e-5
    index, out = store.faiss_index, {"probe": not hasattr(store.faiss_index, "hnsw")}
    if out["probe"]:
        # The store is exact at this size; measure the HNSW index that larger stores get.
        from ncpi_qa.qa.retrieve import HNSW_EF_SEARCH, build_faiss

        tmp = store.path / "hnsw-probe.index"
        build_faiss(vecs, tmp, exact_max=0)
        index = faiss.read_index(str(tmp))
        tmp.unlink()
        index.hnsw.efSearch = HNSW_EF_SEARCH
    default = index.hnsw.efSearch
    for ef in sorted({32, 64, default, 256, 512}):
        index.hnsw.efSearch = ef
        t = time.perf_counter()
        ids = index.search(qv, 10)[1]
        ms = (time.perf_counter() - t) * 1000 / len(qv)
        sims = np.einsum("qkd,qd->qk", vecs[np.maximum(ids, 0)], qv)
        rec = float(np.mean((sims >= kth) & (ids >= 0)))
        out[f"ef{ef}"] = {"recall_at_10": round(rec, 4), "ms_per_query": round(ms, 3)}
    index.hnsw.efSearch = default
    return {"recall_at_10": out[f"ef{default}"]["recall_at_10"], "ef_search": default, **out}


def phase_peer(p: dict) -> dict:
    """llama-index on defaults over our chunks: TextNodes (text = our chunk's embed text),
    VectorStoreIndex, FaissVectorStore over IndexFlatL2 (as its docs show), top-5 retriever."""
    import faiss
    from bench_corpus import Meter, _status_mb, locate, overlaps, rate, summarize

    from ncpi_qa.index.embedding import BUNDLED, model_path
    from ncpi_qa.index.store import current_generation
    from ncpi_qa.ingest.chunking import Chunk

    t0 = time.perf_counter()
    from llama_index.core import Settings as LISettings
    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.core.schema import TextNode
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.faiss import FaissVectorStore

    LISettings.llm = None  # no LLM: retrieval only
    embed = HuggingFaceEmbedding(model_name=str(model_path(BUNDLED)), device="cpu")
    out = {"import_and_load_s": round(time.perf_counter() - t0, 2), "faiss": "IndexFlatL2"}
    gen = current_generation(Path(p["store"]))
    with open(gen / "chunks.jsonl", encoding="utf-8") as f:
        chunks = [Chunk.from_dict(json.loads(line)) for line in f]
    vecs = np.load(gen / "chunk_vectors.npy", mmap_mode="r")

    def build(ids, embedded: bool):
        vec = (lambda i: vecs[i].tolist()) if embedded else (lambda i: None)
        nodes = [TextNode(id_=str(i), text=chunks[i].embed_text(), embedding=vec(i)) for i in ids]
        store = FaissVectorStore(faiss_index=faiss.IndexFlatL2(vecs.shape[1]))
        ctx = StorageContext.from_defaults(vector_store=store)
        with Meter() as m:
            index = VectorStoreIndex(nodes, storage_context=ctx, embed_model=embed)
        return index, m

    sample, real, n = p.get("embed_sample"), p["vectors"] == "real", len(chunks)
    out["chunks"] = n
    if real and not sample:  # the peer embeds every chunk itself
        index, m = build(range(n), False)
        out.update(index_method="embedded every chunk", index_s=round(m.wall, 2))
    else:  # its embedding timed on a sample; the index built from vectors of the same texts
        ids = random.Random(0).sample(range(n), min(sample or 200, n))
        per_chunk = build(ids, False)[1].wall / len(ids)
        index, m = build(range(n), True)
        how = {"real": "our same-model", "pool": "our pool-mean"}.get(p["vectors"], "hash")
        out.update(index_method=f"embedding timed on {len(ids)} chunks; index built from "
                   f"{how} vectors of the same texts", insert_s=round(m.wall, 2),
                   embed_chunks_per_s=rate(1, per_chunk))  # fmt: skip
        if real:
            out["index_s"] = round(per_chunk * n + m.wall, 2)
    out["index_chunks_per_s"] = rate(n, out.get("index_s"))
    retriever = index.as_retriever(similarity_top_k=5)
    for q in p["questions"][:5]:
        retriever.retrieve(q)
    lat, spans = [], []
    for q in p["questions"]:
        t = time.perf_counter()
        found = [chunks[int(x.node.node_id)] for x in retriever.retrieve(q)]
        lat.append((time.perf_counter() - t) * 1000)
        spans.append([(c.doc_id, c.start, c.end) for c in found])
    out["query_ms"] = summarize(lat)
    if p["vectors"] != "hash":
        with open(gen / "documents.jsonl", encoding="utf-8") as f:
            docs = [(d["doc_id"], d["source"], d["text"]) for d in map(json.loads, f)]
        hits = [overlaps(locate(docs, row["support"], set(p["sources"])), spans[i])
                for i, row in enumerate(p["dev"])]  # fmt: skip
        out["dev_hit_at_5"] = round(float(np.mean(hits)), 3) if hits else None
    out["peak_rss_mb"] = _status_mb("VmHWM")
    return out


PHASES = {"build": phase_build, "serve": phase_serve, "peer": phase_peer, "pool": phase_pool}


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
    params = json.loads(Path(argv[1]).read_text())
    Path(params["out"]).write_text(json.dumps(PHASES[argv[0]](params)))
    return 0


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
        from gradio_client import Client

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
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


# ----------------------------------------------------------------------------- orchestration
def run(quick: bool) -> dict:
    from bench_corpus import (
        CorpusGenerator,
        dev_rows,
        machine,
        make_questions,
        sentence_pool,
        write_corpus,
    )

    from ncpi_qa.settings import project_root

    t_start, root, work = time.perf_counter(), project_root(), Path(tempfile.mkdtemp())
    env_sizes = os.environ.get("NCPI_QA_BENCH_SIZES")
    sizes = [int(x) for x in env_sizes.split(",")] if env_sizes else SIZES[: 1 if quick else 3]
    try:
        cmd = "ncpi-qa bench" + " --quick" * quick
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        result = {"machine": machine(), "command": cmd, "started": when, "sizes": [], "notes": []}
        pool = sentence_pool(int(os.environ.get("NCPI_QA_BENCH_POOL", 60_000)))
        shipped = root / "corpus"
        dev = [r for r in dev_rows(root) if r.get("support")]
        questions = make_questions(CorpusGenerator(pool, seed=7), dev, N_QUESTIONS)
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
            size = {"target_chunks": n, **run_child("build", p, work)}
            size.update(run_child("serve", p, work))
            size["peak_rss_mb"] = max(size["peak_rss_index_mb"], size["peak_rss_serve_mb"])
            result["sizes"].append(size)
        result["cold_start_s"], result["peer"] = {"ask": None, "app": None}, {}
        if not fake():
            peers = {}
            for n, p in params.items():
                sample = 100 if quick else (None if p["vectors"] == "real" else 200)
                peers[str(n)] = run_child("peer", {**p, "embed_sample": sample}, work)
            result["peer"], result["peer_by_size"] = peers[str(sizes[0])], peers
            p, q = params[sizes[0]], (dev[0]["question"] if dev else questions[0])
            env = _env(NCPI_QA_CORPUS_DIR=p["corpus"], NCPI_QA_STORE_DIR=p["store"])
            log("cold starts")
            ask, app = cold_start_ask(env, q, 2 if quick else 3), cold_start_app(env, q)
            result["cold_start_s"] = {"ask": ask.get("s"), "app": app.get("s")}
            result["cold_start_detail"] = {"ask": ask, "app": app}
        result["ratios"], result["targets"] = ratios(result), targets(result)
        result["notes"] += notes(result, quick)
        result["total_s"] = round(time.perf_counter() - t_start, 1)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _div(a, b):
    return round(a / b, 3) if a is not None and b else None


def ratios(r: dict) -> dict:
    """Ours over the peer's at each size; and the index/encoder ratio projected for the real
    model at stand-in sizes (its measured texts/s at the real size, our measured overhead)."""
    out, real = {}, [s for s in r["sizes"] if s["vectors"] == "real"]
    for s in r["sizes"]:
        n, peer = s["target_chunks"], r.get("peer_by_size", {}).get(str(s["target_chunks"]))
        if s["vectors"] != "real" and real:
            enc = s["texts_embedded"] / real[0]["encoder_texts_per_s"]
            over = max(s["index_overhead_s"], 0)
            out[f"{n}_index_vs_encoder_projected_real_model"] = round(enc / (enc + over), 3)
        if not peer:
            continue
        for mine, q in (("ask_ms", "p50"), ("ask_ms", "p95"), ("retrieve_ms", "p50")):
            out[f"{n}_{mine[:-3]}_{q}_vs_peer_{q}"] = _div(s[mine][q], peer["query_ms"][q])
        out[f"{n}_peak_rss_vs_peer"] = _div(s["peak_rss_mb"], peer["peak_rss_mb"])
        ours, theirs = s["index_chunks_per_s"], peer.get("index_chunks_per_s")
        out[f"{n}_index_chunks_per_s_vs_peer"] = _div(ours, theirs)
        ours, theirs = s.get("dev_hit_at_5", {}).get("hybrid"), peer.get("dev_hit_at_5")
        out[f"{n}_dev_hit_at_5_vs_peer"] = _div(ours, theirs)
    return {k: v for k, v in out.items() if v is not None}


def targets(r: dict) -> dict:
    out = {}

    def check(key, value, target, higher=False):
        if value is not None:
            met = value >= target if higher else value <= target
            out[key] = {"value": value, "target": target, "met": met}

    for s in r["sizes"]:
        n = s["target_chunks"]
        check(f"ask_p95_ms_{n}", s["ask_ms"]["p95"] if n in ASK_P95_MS else None, ASK_P95_MS.get(n))
        check(f"hnsw_recall_at_10_{n}", s.get("hnsw", {}).get("recall_at_10"), 0.95, True)
        if s["vectors"] == "real":
            check(f"index_vs_encoder_{n}", s["index_vs_encoder"], 0.9, True)
            check(f"index_vs_encoder_in_run_{n}", s["index_vs_encoder_in_run"], 0.9, True)
        check(f"reindex_noop_s_{n}", s["reindex_noop_s"], 1.0)
    check("cold_start_ask_s", r["cold_start_s"]["ask"], 6.0)
    return out


def notes(r: dict, quick: bool) -> list[str]:
    out = []
    for s in r["sizes"]:
        if s["vectors"] == "pool":
            out.append(
                f"{s['chunks']} chunks: STAND-IN VECTORS. Every distinct pool sentence was "
                "embedded once by the real model; a chunk's (or sentence's) vector is the "
                "normalised mean of the model vectors of its sentences (sentences not in the "
                f"pool, {s['model_encoded']}, embedded by the model). So the index, HNSW recall "
                "and dev hit@5 see the model's geometry, but indexing time excludes the model: "
                "see the projected index/encoder ratio. Questions are embedded by the real "
                "model. The peer indexed the same vectors."
            )
        elif s["vectors"] == "hash":
            out.append(f"{s['chunks']} chunks: hash-projection vectors (NCPI_QA_BENCH_FAKE), "
                       "not the model, for everything including questions.")  # fmt: skip
    if quick:
        out.append("--quick: raw encoder timed on two 10% samples of the same texts, scaled; the "
                   "peer's embedding timed on 100 chunks, its index built from our vectors of "
                   "the same texts (same model).")  # fmt: skip
    press = [s["cpu_pressure"]["index"] or 0 for s in r["sizes"]]
    press += [s.get("ask_cpu_pressure") or 0 for s in r["sizes"]]
    load = r["machine"]["load_avg_at_start"][0]
    if load > 0.5 or max(press, default=0) > 0.2:
        out.append(f"Shared machine: load average {load} at start; CPU pressure (share of time "
                   f"a task waited for a CPU) up to {max(press):.2f} in timed parts.")  # fmt: skip
    return out


# ----------------------------------------------------------------------------- report
def _plot(r: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s, pb = r["sizes"], r.get("peer_by_size", {})
    x = [v["chunks"] for v in s]
    peer = [(xx, pb[str(v["target_chunks"])]) for xx, v in zip(x, s, strict=True)
            if str(v["target_chunks"]) in pb]  # fmt: skip
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    for key, style in (("p50", "o-"), ("p95", "s--")):
        a.plot(x, [v["ask_ms"][key] for v in s], style, color="C0", label=f"ncpi-qa ask {key}")
        if peer:
            a.plot([c for c, _ in peer], [p["query_ms"][key] for _, p in peer], style,
                   color="C1", label=f"llama-index query {key}")  # fmt: skip
    b.plot(x, [v["peak_rss_index_mb"] for v in s], "o-", color="C0", label="ncpi-qa index build")
    b.plot(x, [v["peak_rss_serve_mb"] for v in s], "s--", color="C0", label="ncpi-qa serving")
    if peer:
        b.plot([c for c, _ in peer], [p["peak_rss_mb"] for _, p in peer], "^-", color="C1",
               label="llama-index (index + queries)")  # fmt: skip
    a.set(xscale="log", xlabel="chunks", ylabel="ms", title="Latency per question (warm)")
    a.set_ylim(bottom=0)
    b.set(xscale="log", xlabel="chunks", ylabel="MB", title="Peak RSS")
    for ax in (a, b):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("ncpi-qa bench (stand-in vectors above 1k chunks)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _get(d: dict, path: str):
    for key in path.split("."):
        d = d.get(key) if isinstance(d, dict) else None
    return d


def _table(rows: list[dict], spec: list[str]) -> list[str]:
    """Markdown table; each spec is "header=path[/path...]" (dotted paths, " / "-joined)."""
    heads = [c.split("=")[0] for c in spec]
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for row in rows:
        cells = [" / ".join(str(_get(row, k)) for k in c.split("=")[1].split("/")) for c in spec]
        lines.append("| " + " | ".join(cells).replace("None", "—") + " |")
    return lines


INDEX_TABLE = [
    "chunks=chunks", "vectors=vectors", "texts embedded=texts_embedded", "index s=index_s",
    "index chunks/s=index_chunks_per_s", "encoder chunks/s, same texts=encoder_chunks_per_s",
    "index ÷ encoder: wall / CPU / in-run=index_vs_encoder/index_vs_encoder_cpu/"
    "index_vs_encoder_in_run", "chunk-only encoder chunks/s=chunk_only_encoder_chunks_per_s",
    "tokens/s index / encoder=index_tokens_per_s/encoder_tokens_per_s",
    "re-index unchanged s=reindex_noop_s", "one file changed s=reindex_one_changed_s",
    "peak RSS MB=peak_rss_index_mb",
]  # fmt: skip
ASK_TABLE = [
    "chunks=chunks", "FAISS=faiss", "ask p50 / p95 ms=ask_ms.p50/ask_ms.p95",
    "retrieve p50 / p95=retrieve_ms.p50/retrieve_ms.p95",
    "answer p50 / p95=answer_ms.p50/answer_ms.p95", "store load s=store_load_s",
    "serving peak RSS MB=peak_rss_serve_mb",
    "HNSW recall@10 / efSearch / probe=hnsw.recall_at_10/hnsw.ef_search/hnsw.probe",
    "dev hit@5 hybrid / dense / bm25=dev_hit_at_5.hybrid/dev_hit_at_5.dense/dev_hit_at_5.bm25",
    "CPU pressure=ask_cpu_pressure",
]  # fmt: skip
PEER_TABLE = [
    "chunks=chunks", "index s=index_s", "index chunks/s=index_chunks_per_s", "insert s=insert_s",
    "query p50 / p95 ms=query_ms.p50/query_ms.p95", "peak RSS MB=peak_rss_mb",
    "dev hit@5=dev_hit_at_5", "how=index_method",
]  # fmt: skip


def write_docs(r: dict, docs: Path) -> None:
    docs.mkdir(parents=True, exist_ok=True)
    _plot(r, docs / "benchmarks.png")
    m, pb = r["machine"], r.get("peer_by_size", {})
    peers = list(pb.values())
    when = r.get("started") or time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    L = ["# Benchmarks", "", "Made by `make bench` (= `ncpi-qa bench`; `--quick`: smallest size "
         "only; `--json`: all figures). Generated by app/ncpi_qa/bench.py: edit that, not this.",
         "", f"Machine: {m['cores']} cores, {m['cpu']}, {m['mem_gib']} GiB RAM, Python "
         f"{m['python']}; load average at start {m['load_avg_at_start']}. Run {when}, "
         f"{r['total_s']} s in all.", "", "Corpora: report-like Markdown generated offline "
         "from prose in /usr/share/doc plus the shipped corpus (copied in; some of its "
         "sentences spliced into distractors); one section is one chunk; temp folder, deleted.",
         "", "## Indexing", ""] + _table(r["sizes"], INDEX_TABLE)  # fmt: skip
    L += ["", "Index ÷ encoder — wall: raw `encode` of exactly the texts the index embeds (each "
          "chunk and each of its sentences; of two runs bracketing the build, the one less "
          "disturbed by other work) over the index build's time; CPU: the same in process CPU "
          "time; in-run: the share of the build spent inside `encode` (immune to machine "
          "noise). Chunk-only encoder: raw `encode` of the chunk texts alone, what a pipeline "
          "embedding only chunks (like the peer) needs. Stand-in rows (vectors = pool) time a "
          "lookup, not the model: read their ratios in the projected line below."]  # fmt: skip
    L += ["", "## Asking (200 questions, warm)", ""] + _table(r["sizes"], ASK_TABLE)
    L += ["", "HNSW recall@10: against exact search, for the 200 questions' vectors; probe = "
          "True where the store is exact at that size and an HNSW index built as larger stores "
          "get it was measured instead."]  # fmt: skip
    L += ["", "## Peer: llama-index on defaults, same chunks", ""] + _table(peers, PEER_TABLE)
    pe = r.get("pool_embedding")
    if pe:
        L += ["", f"Stand-in vectors: {pe['texts']} pool sentences embedded once by the model in "
              f"{pe['s']} s ({pe['texts_per_s']} texts/s)."]  # fmt: skip
    L += ["", "## Cold start", ""]
    L += [f"- {k}: {v.get('s')} s ({v.get('method', v)})" for k, v in
          r.get("cold_start_detail", {}).items()]  # fmt: skip
    L += ["", "## Ratios (ours ÷ peer)", ""] + [f"- {k}: {v}" for k, v in r["ratios"].items()]
    L += ["", "## Targets", "", "| target | value | wanted | met |", "|---|---|---|---|"]
    L += [f"| {k} | {v['value']} | {v['target']} | {'yes' if v['met'] else '**no**'} |"
          for k, v in r["targets"].items()]  # fmt: skip
    L += ["", "## Notes", ""] + [f"- {n}" for n in r["notes"]]
    L += ["", "![Latency and memory against corpus size](benchmarks.png)", "",
          "<details><summary>Full JSON</summary>", "", "```json", json.dumps(r, indent=1),
          "```", "", "</details>", ""]  # fmt: skip
    (docs / "benchmarks.md").write_text("\n".join(L), encoding="utf-8")


def main(args) -> int:
    from ncpi_qa.settings import project_root

    quick = bool(getattr(args, "quick", False))
    result = run(quick)
    if not quick and not fake() and not os.environ.get("NCPI_QA_BENCH_SIZES"):
        write_docs(result, project_root() / "docs")
        log("wrote docs/benchmarks.md and docs/benchmarks.png")
    brief = ("sizes", "cold_start_s", "peer", "ratios", "targets", "notes", "total_s")
    keep = result if getattr(args, "json", False) else {k: result[k] for k in brief}
    print(json.dumps(keep, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
