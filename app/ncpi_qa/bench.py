"""`ncpi-qa bench`: indexing speed, ask latency, memory and cold start at ~1k/20k/200k chunks,
against a plain llama-index pipeline (VectorStoreIndex + FaissVectorStore + HuggingFaceEmbedding).

Each measurement that needs its own memory peak runs in a child process
(``python -m ncpi_qa.bench PHASE PARAMS.json``): ``build`` (index, re-index, raw encoder
throughput), ``serve`` (load, 200 asks, dev hit@5, HNSW recall) and ``peer`` (llama-index).
Corpora are generated into a temporary folder (see bench_corpus) and deleted afterwards.
Above ``REAL_MAX`` chunks the index is built from synthetic hash-projection vectors (the model
would take hours here); questions are still embedded by the real model. The output says so.

Env: NCPI_QA_BENCH_SIZES="1000,20000" overrides the sizes; NCPI_QA_BENCH_FAKE=1 uses the
synthetic embedder everywhere and skips the peer and cold starts (a fast smoke test).
"""

from __future__ import annotations

import json
import os
import random
import resource
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
SHIPPED_NAME = "ncpi-2019-commissioner-page.md"
TARGETS = {"ask_p95_ms_20k": 60, "ask_p95_ms_200k": 100, "hnsw_recall_at_10": 0.95,
           "index_vs_encoder": 0.90, "reindex_noop_s": 1.0, "cold_start_ask_s": 6.0}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def percentile(values, q: float) -> float | None:
    """The q-th percentile (0..100, linear interpolation), None for no values."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else None


def summarize(values) -> dict:
    r = lambda x: None if x is None else round(x, 2)  # noqa: E731
    return {"p50": r(percentile(values, 50)), "p95": r(percentile(values, 95)),
            "mean": r(float(np.mean(values)) if len(values) else None), "n": len(values)}


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def rate(n: float, seconds: float | None) -> float | None:
    return round(n / seconds, 2) if seconds else None


def _env() -> dict:
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               GRADIO_ANALYTICS_ENABLED="False", HF_HUB_DISABLE_TELEMETRY="1")
    return env


def fake() -> bool:
    return os.environ.get("NCPI_QA_BENCH_FAKE", "") not in ("", "0")


def query_embedder():
    from .bench_corpus import HashProjectionEmbedder
    from .embedding import get_embedder

    return HashProjectionEmbedder() if fake() else get_embedder()


class TimedEmbedder:
    """Wraps an embedder and adds up the seconds spent in ``encode``."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.dim, self.seconds = inner, inner.name, inner.dim, 0.0

    def encode(self, texts, progress: bool = False):
        t = time.perf_counter()
        try:
            return self.inner.encode(texts, progress=progress)
        finally:
            self.seconds += time.perf_counter() - t


def corpus_texts(settings) -> tuple[list[str], list[str]]:
    """Exactly the texts build_index embeds: each chunk's embed text, then its sentences."""
    from .chunking import chunk_document
    from .documents import corpus_files, load_document

    chunk_texts, sent_texts = [], []
    for path in corpus_files(settings.corpus_dir):
        doc = load_document(path)
        chunks = chunk_document(doc, settings.chunk_max_chars)
        chunk_texts += [c.embed_text() for c in chunks]
        sent_texts += [doc.text[s:e] for c in chunks for s, e in c.sentences]
    return chunk_texts, sent_texts


def count_tokens(texts: list[str], sample: int = 20_000) -> tuple[int, bool]:
    """Model (WordPiece) tokens, truncated at 256 like the encoder; estimated from a sample
    above ``sample`` texts. Returns (tokens, estimated)."""
    from tokenizers import Tokenizer

    from .embedding import BUNDLED, model_path

    tok = Tokenizer.from_file(str(model_path(BUNDLED) / "tokenizer.json"))
    tok.enable_truncation(256)
    part = texts if len(texts) <= sample else random.Random(0).sample(texts, sample)
    n = sum(len(e.ids) for e in tok.encode_batch(part))
    return (n, False) if part is texts else (round(n * len(texts) / len(part)), True)


def dev_rows() -> list[dict]:
    from .settings import project_root

    path = project_root() / "evals" / "dev.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] \
        if path.exists() else []


def dev_location(store, support: str):
    from .text import find_normalized

    for doc in store_documents(store):
        if doc.source == SHIPPED_NAME:
            span = find_normalized(doc.text, support)
            return (doc.doc_id, *span) if span else None
    return None


def store_documents(store):
    return store.documents.values() if hasattr(store, "documents") else store


def is_hit(loc, passages) -> bool:
    return bool(loc) and any(p[0] == loc[0] and p[1] < loc[2] and p[2] > loc[1]
                             for p in passages)


# ----------------------------------------------------------------------------- child phases
def phase_build(p: dict) -> dict:
    """Index from scratch, re-index unchanged and with one file changed, raw encode."""
    from .bench_corpus import HashProjectionEmbedder, touch_one_file
    from .settings import Settings
    from .store import build_index

    t = time.perf_counter()
    inner = get_model() if p["real"] else HashProjectionEmbedder()
    load_s = time.perf_counter() - t
    emb = TimedEmbedder(inner)
    settings = Settings(corpus_dir=Path(p["corpus"]), store_dir=Path(p["store"]))
    quiet = lambda m: None  # noqa: E731
    t = time.perf_counter()
    rep = build_index(settings, embedder=emb, log=quiet)
    index_s, encode_in_index_s = time.perf_counter() - t, emb.seconds
    rss_index = peak_rss_mb()
    t = time.perf_counter()
    noop = build_index(settings, embedder=emb, log=quiet)
    noop_s = time.perf_counter() - t
    chunk_texts, sent_texts = corpus_texts(settings)  # as indexed, before the change below
    texts = chunk_texts + sent_texts
    assert len(texts) == rep.texts_embedded, (len(texts), rep.texts_embedded)
    touch_one_file(Path(p["corpus"]), json.loads(Path(p["pool"]).read_text()))
    t = time.perf_counter()
    changed = build_index(settings, embedder=emb, log=quiet)
    changed_s = time.perf_counter() - t
    tokens, estimated = count_tokens(texts)
    frac = p.get("raw_fraction") or 1.0  # quick mode times the raw encoder on a sample
    rng = random.Random(1)
    raw_in = texts if frac >= 1 else rng.sample(texts, max(1, int(len(texts) * frac)))
    raw_chunks = chunk_texts if frac >= 1 else rng.sample(chunk_texts,
                                                          max(1, int(len(chunk_texts) * frac)))
    t = time.perf_counter()
    inner.encode(raw_in)
    raw_s = (time.perf_counter() - t) * len(texts) / len(raw_in)
    t = time.perf_counter()
    inner.encode(raw_chunks)
    chunk_only_s = (time.perf_counter() - t) * len(chunk_texts) / len(raw_chunks)
    n = rep.n_chunks
    return {
        "chunks": n, "sentences": rep.n_sentences, "texts_embedded": len(texts),
        "tokens": tokens, "tokens_estimated": estimated, "files": len(rep.indexed),
        "vectors": "real" if p["real"] else "synthetic", "embedder": inner.name,
        "model_load_s": round(load_s, 2), "index_s": round(index_s, 2),
        "index_chunks_per_s": rate(n, index_s), "index_tokens_per_s": rate(tokens, index_s),
        "encode_in_index_s": round(encode_in_index_s, 2),
        "index_overhead_s": round(index_s - encode_in_index_s, 2),
        "encoder_s": round(raw_s, 2), "encoder_texts_per_s": rate(len(texts), raw_s),
        "encoder_chunks_per_s": rate(n, raw_s), "encoder_tokens_per_s": rate(tokens, raw_s),
        "encoder_sampled_fraction": frac,
        "chunk_only_encoder_s": round(chunk_only_s, 2),
        "chunk_only_encoder_chunks_per_s": rate(n, chunk_only_s),
        "index_vs_encoder": round(raw_s / index_s, 3),
        "index_vs_encoder_in_run": round(encode_in_index_s / index_s, 3),
        "reindex_noop_s": round(noop_s, 3), "reindex_noop_up_to_date": noop.up_to_date,
        "reindex_one_changed_s": round(changed_s, 2),
        "reindex_one_changed_texts_embedded": changed.texts_embedded,
        "peak_rss_index_mb": rss_index, "peak_rss_build_phase_mb": peak_rss_mb(),
    }


def get_model():
    from .embedding import get_embedder

    return get_embedder()


def phase_serve(p: dict) -> dict:
    """Load the store, answer 200 questions, score dev hit@5, measure HNSW recall."""
    from .pipeline import QA
    from .settings import Settings
    from .store import Store

    t = time.perf_counter()
    emb = query_embedder()
    load_model_s = time.perf_counter() - t
    t = time.perf_counter()
    store = Store.load(Path(p["store"]))
    load_store_s = time.perf_counter() - t
    rss_loaded = peak_rss_mb()
    qa = QA(Settings(store_dir=Path(p["store"])), store=store, embedder=emb)
    questions = p["questions"]
    for q in questions[:5]:
        qa.ask(q)
    timings, wall, results = {"retrieve": [], "answer": [], "total": []}, [], []
    for q in questions:
        t = time.perf_counter()
        r = qa.ask(q)
        wall.append((time.perf_counter() - t) * 1000)
        for key in timings:
            timings[key].append(r["timings_ms"][key])
        results.append([(x["doc_id"], x["start"], x["end"]) for x in r["passages"]])
    out = {"store_load_s": round(load_store_s, 2), "model_load_s": round(load_model_s, 2),
           "rss_after_load_mb": rss_loaded, "faiss": store.manifest.get("faiss"),
           "ask_ms": summarize(timings["total"]), "retrieve_ms": summarize(timings["retrieve"]),
           "answer_ms": summarize(timings["answer"]), "ask_wall_ms": summarize(wall)}
    if p["real"] and not fake():
        hits: dict[str, list[bool]] = {"hybrid": [], "dense": [], "bm25": []}
        for i, row in enumerate(p["dev"]):
            loc = dev_location(store, row["support"])
            hits["hybrid"].append(is_hit(loc, results[p["dev_index"][i]]))
            for mode in ("dense", "bm25"):
                found = qa.retriever.search(row["question"], 5, mode=mode)
                c = [store.chunks[h.index] for h in found]
                hits[mode].append(is_hit(loc, [(x.doc_id, x.start, x.end) for x in c]))
        out["dev_hit_at_5"] = {m: round(float(np.mean(v)), 3) for m, v in hits.items() if v}
        out["dev_questions"] = len(p["dev"])
    if out["faiss"] == "hnsw":
        out["hnsw"] = hnsw_recall(store, questions)
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def hnsw_recall(store, questions: list[str]) -> dict:
    """recall@10 of the store's HNSW index against exact search, for in-distribution
    queries (the questions embedded like the chunks were, by the hash projection)."""
    import faiss

    from .bench_corpus import HashProjectionEmbedder

    vecs = np.load(store.path / "chunk_vectors.npy")
    exact = faiss.IndexFlatIP(vecs.shape[1])
    exact.add(vecs)
    qv = HashProjectionEmbedder().encode(questions)
    _, truth = exact.search(qv, 10)
    hnsw, out = store.faiss_index, {}
    default_ef = hnsw.hnsw.efSearch
    for ef in sorted({32, 64, default_ef, 256}):
        hnsw.hnsw.efSearch = ef
        t = time.perf_counter()
        _, got = hnsw.search(qv, 10)
        ms = (time.perf_counter() - t) * 1000 / len(qv)
        rec = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, got, strict=True)])
        out[f"ef{ef}"] = {"recall_at_10": round(float(rec), 4), "ms_per_query": round(ms, 3)}
    hnsw.hnsw.efSearch = default_ef
    out["recall_at_10"] = out[f"ef{default_ef}"]["recall_at_10"]
    out["ef_search"] = default_ef
    return out


def phase_peer(p: dict) -> dict:
    """llama-index on defaults over the same chunks: VectorStoreIndex, FaissVectorStore
    (IndexFlatL2, as in its docs), HuggingFaceEmbedding of the bundled model."""
    import faiss

    from .chunking import Chunk
    from .embedding import BUNDLED, model_path
    from .store import current_generation

    t0 = time.perf_counter()
    from llama_index.core import Settings as LISettings
    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.core.schema import TextNode
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.faiss import FaissVectorStore

    import_s = time.perf_counter() - t0
    LISettings.llm = None
    embed = HuggingFaceEmbedding(model_name=str(model_path(BUNDLED)), device="cpu")
    LISettings.embed_model = embed
    load_s = time.perf_counter() - t0 - import_s
    gen = current_generation(Path(p["store"]))
    with open(gen / "chunks.jsonl", encoding="utf-8") as f:
        chunks = [Chunk.from_dict(json.loads(line)) for line in f]
    vecs = np.load(gen / "chunk_vectors.npy", mmap_mode="r")
    dim = vecs.shape[1]

    def build(nodes):
        ctx = StorageContext.from_defaults(
            vector_store=FaissVectorStore(faiss_index=faiss.IndexFlatL2(dim)))
        t = time.perf_counter()
        index = VectorStoreIndex(nodes, storage_context=ctx, embed_model=embed)
        return index, time.perf_counter() - t

    def nodes(embedded: bool, idx=None):
        idx = range(len(chunks)) if idx is None else idx
        return [TextNode(id_=str(i), text=chunks[i].embed_text(),
                         embedding=vecs[i].tolist() if embedded else None) for i in idx]

    out = {"import_s": round(import_s, 2), "model_load_s": round(load_s, 2),
           "chunks": len(chunks), "faiss": "IndexFlatL2"}
    sample = p.get("embed_sample")
    if p["real"] and not sample:  # the peer embeds every chunk itself
        index, index_s = build(nodes(False))
        out.update(index_method="embedded all chunks", index_s=round(index_s, 2))
        out["index_chunks_per_s"] = rate(len(chunks), index_s)
    else:  # time embedding on a sample, then index precomputed vectors of the same texts
        ids = random.Random(0).sample(range(len(chunks)), min(sample or 200, len(chunks)))
        _, emb_s = build(nodes(False, ids))
        index, insert_s = build(nodes(True))
        per_chunk = emb_s / len(ids)
        out.update(index_method=f"embedding timed on {len(ids)} chunks; index built from "
                   f"{'our (same-model) vectors' if p['real'] else 'synthetic vectors'}",
                   insert_s=round(insert_s, 2), embed_sample_chunks_per_s=rate(1, per_chunk))
        if p["real"]:
            out["index_s"] = round(per_chunk * len(chunks) + insert_s, 2)
            out["index_chunks_per_s"] = rate(len(chunks), out["index_s"])
    retriever = index.as_retriever(similarity_top_k=5)
    questions = p["questions"]
    for q in questions[:5]:
        retriever.retrieve(q)
    lat, results = [], []
    for q in questions:
        t = time.perf_counter()
        found = retriever.retrieve(q)
        lat.append((time.perf_counter() - t) * 1000)
        c = [chunks[int(n.node.node_id)] for n in found]
        results.append([(x.doc_id, x.start, x.end) for x in c])
    out["query_ms"] = summarize(lat)
    if p["real"]:
        docs = {}
        with open(gen / "documents.jsonl", encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                docs[d["doc_id"]] = type("D", (), {"doc_id": d["doc_id"], "text": d["text"],
                                                   "source": d["source"]})
        hits = [is_hit(dev_location(list(docs.values()), row["support"]),
                       results[p["dev_index"][i]]) for i, row in enumerate(p["dev"])]
        out["dev_hit_at_5"] = round(float(np.mean(hits)), 3) if hits else None
    out["peak_rss_mb"] = peak_rss_mb()
    return out


PHASES = {"build": phase_build, "serve": phase_serve, "peer": phase_peer}


def run_child(phase: str, params: dict, work: Path, timeout: float = 3600) -> dict:
    name = f"{phase}-{params.get('label', '')}"
    pfile, ofile, lfile = (work / f"{name}.{x}" for x in ("params.json", "out.json", "log"))
    pfile.write_text(json.dumps({**params, "out": str(ofile)}))
    t = time.perf_counter()
    with open(lfile, "w") as lf:
        proc = subprocess.run([sys.executable, "-m", "ncpi_qa.bench", phase, str(pfile)],
                              stdout=lf, stderr=subprocess.STDOUT, env=_env(), timeout=timeout)
    if proc.returncode or not ofile.exists():
        tail = lfile.read_text(errors="ignore")[-3000:]
        raise RuntimeError(f"bench {name} failed (exit {proc.returncode}):\n{tail}")
    log(f"{name} done in {time.perf_counter() - t:.0f}s")
    return json.loads(ofile.read_text())


def child_main(argv: list[str]) -> int:
    params = json.loads(Path(argv[1]).read_text())
    result = PHASES[argv[0]](params)
    Path(params["out"]).write_text(json.dumps(result))
    return 0


# ----------------------------------------------------------------------------- cold starts
def _cli() -> list[str]:
    exe = Path(sys.executable).with_name("ncpi-qa")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "ncpi_qa.cli"]


def cold_start_ask(store: Path, question: str, runs: int) -> dict:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        proc = subprocess.run(_cli() + ["ask", question, "--store", str(store), "--json"],
                              capture_output=True, text=True, env=_env(), timeout=300)
        times.append(time.perf_counter() - t)
        if proc.returncode:
            return {"error": proc.stderr[-500:]}
    return {"s": round(float(np.median(times)), 2), "runs_s": [round(x, 2) for x in times],
            "method": "`ncpi-qa ask QUESTION --json` in a subprocess, wall clock"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cold_start_app(store: Path, question: str, timeout: float = 180) -> dict:
    """Start `ncpi-qa app`, poll until it serves, then get one answer through gradio_client."""
    import urllib.request

    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    t0 = time.perf_counter()
    proc = subprocess.Popen(_cli() + ["app", "--host", "127.0.0.1", "--port", str(port),
                                      "--store", str(store)], env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        while True:
            if proc.poll() is not None:
                return {"error": f"app exited {proc.returncode}: {proc.stderr.read()[-400:]}"}
            if time.perf_counter() - t0 > timeout:
                return {"error": f"app not serving after {timeout}s"}
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        serving = time.perf_counter() - t0
        from gradio_client import Client

        client = Client(url, verbose=False)
        api = client.view_api(print_info=False, return_format="dict") or {}
        named = api.get("named_endpoints", {})
        order = sorted(named, key=lambda n: not any(w in n for w in ("chat", "ask", "respond",
                                                                     "answer", "submit")))
        errors = []
        for name in order:
            params = named[name].get("parameters", [])
            kwargs, filled = {}, False
            for prm in params:
                ptype = str(prm.get("python_type", {}).get("type", ""))
                if not filled and ptype.startswith("str"):
                    kwargs[prm["parameter_name"]], filled = question, True
                elif prm.get("parameter_has_default"):
                    kwargs[prm["parameter_name"]] = prm.get("parameter_default")
            if not filled:
                continue
            try:
                result = client.predict(api_name=name, **kwargs)
            except Exception as e:  # try the next endpoint
                errors.append(f"{name}: {type(e).__name__}: {str(e)[:120]}")
                continue
            if result:
                return {"s": round(time.perf_counter() - t0, 2), "serving_s": round(serving, 2),
                        "endpoint": name, "method": "`ncpi-qa app` subprocess; HTTP poll "
                        "until it serves; first answer via gradio_client"}
        return {"error": "no endpoint answered", "serving_s": round(serving, 2),
                "tried": errors[:5]}
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


# ----------------------------------------------------------------------------- orchestration
def machine() -> dict:
    model = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text()
                  .splitlines() if ln.startswith("model name")), "unknown")
    mem = next((int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines()
                if ln.startswith("MemTotal")), 0)
    return {"cores": os.cpu_count(), "cpu": model, "mem_gib": round(mem / 2**20, 1),
            "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
            "python": sys.version.split()[0]}


def sizes_wanted(quick: bool) -> list[int]:
    env = os.environ.get("NCPI_QA_BENCH_SIZES")
    if env:
        return [int(x) for x in env.split(",") if x.strip()]
    return list(SIZES[:1] if quick else SIZES)


def make_questions(gen, dev: list[dict]) -> tuple[list[str], list[int]]:
    qs = [r["question"] for r in dev]
    while len(qs) < N_QUESTIONS:
        qs.append(gen.question())
    with_support = [i for i, r in enumerate(dev) if r.get("support")]
    return qs[:max(N_QUESTIONS, len(dev))], with_support


def run(quick: bool) -> dict:
    from .bench_corpus import CorpusGenerator, sentence_pool, write_corpus
    from .settings import project_root

    t_start = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="ncpi-bench-"))
    try:
        pool = sentence_pool()
        (work / "pool.json").write_text(json.dumps(pool))
        dev = dev_rows()
        questions, with_support = make_questions(CorpusGenerator(pool, seed=7), dev)
        dev_s = [dev[i] for i in with_support]
        common = {"pool": str(work / "pool.json"), "questions": questions, "dev": dev_s,
                  "dev_index": with_support}
        result = {"machine": machine(), "command": "ncpi-qa bench" + (" --quick" * quick),
                  "sizes": [], "notes": []}
        stores = {}
        for n in sizes_wanted(quick):
            real = n <= REAL_MAX and not fake()
            corpus, store = work / f"corpus-{n}", work / f"store-{n}"
            t = time.perf_counter()
            info = write_corpus(corpus, n, pool, project_root() / "corpus", seed=n)
            log(f"{n}: wrote {info['files']} files ({info['chars'] / 1e6:.1f} M chars) in "
                f"{time.perf_counter() - t:.1f}s")
            p = {**common, "label": str(n), "corpus": str(corpus), "store": str(store),
                 "real": real, "raw_fraction": 0.25 if quick else 1.0}
            size = {"target_chunks": n, **run_child("build", p, work)}
            shutil.copytree(corpus, work / f"pristine-{n}", dirs_exist_ok=True)
            size.update(run_child("serve", p, work))
            size["peak_rss_mb"] = max(size["peak_rss_index_mb"], size["peak_rss_mb"])
            stores[n] = (store, p)
            result["sizes"].append(size)
        first = min(stores)
        store, p = stores[first]
        q = next((r["question"] for r in dev if r.get("support")), questions[0])
        if not fake():
            log("cold starts")
            ask = cold_start_ask(store, q, 1 if quick else 3)
            app = cold_start_app(store, q)
            result["cold_start_s"] = {"ask": ask.get("s"), "app": app.get("s")}
            result["cold_start_detail"] = {"ask": ask, "app": app}
            peers = {}
            for n, (_st, pp) in stores.items():
                if n > REAL_MAX and quick:
                    continue
                pp = {**pp, "embed_sample": 100 if quick else (None if pp["real"] else 200)}
                peers[n] = run_child("peer", pp, work)
            result["peer"] = peers.get(first, {})
            result["peer_by_size"] = {str(k): v for k, v in peers.items()}
        else:
            result["cold_start_s"], result["peer"] = {"ask": None, "app": None}, {}
            result["notes"].append("NCPI_QA_BENCH_FAKE: synthetic embedder everywhere.")
        result["ratios"] = ratios(result)
        result["targets"] = targets(result)
        result["notes"] += notes(result, quick)
        result["total_s"] = round(time.perf_counter() - t_start, 1)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def ratios(r: dict) -> dict:
    out = {}
    sizes = {s["target_chunks"]: s for s in r["sizes"]}
    if not sizes:
        return out
    first = sizes[min(sizes)]
    real_tps = first["encoder_texts_per_s"] if first["vectors"] == "real" else None
    for n, s in sizes.items():
        out[f"{n}_index_vs_encoder"] = s["index_vs_encoder"]
        if s["vectors"] == "synthetic" and real_tps:
            enc = s["texts_embedded"] / real_tps  # projected: the real model at this size
            out[f"{n}_index_vs_encoder_projected_real_model"] = round(
                enc / (enc + s["index_overhead_s"]), 3)
        peer = r.get("peer_by_size", {}).get(str(n))
        if peer:
            out[f"{n}_ask_p50_vs_peer_query_p50"] = _div(s["ask_ms"]["p50"],
                                                         peer["query_ms"]["p50"])
            out[f"{n}_ask_p95_vs_peer_query_p95"] = _div(s["ask_ms"]["p95"],
                                                         peer["query_ms"]["p95"])
            out[f"{n}_retrieve_p50_vs_peer_query_p50"] = _div(s["retrieve_ms"]["p50"],
                                                              peer["query_ms"]["p50"])
            out[f"{n}_peak_rss_vs_peer"] = _div(s["peak_rss_mb"], peer["peak_rss_mb"])
            if peer.get("index_chunks_per_s"):
                out[f"{n}_index_chunks_per_s_vs_peer"] = _div(s["index_chunks_per_s"],
                                                              peer["index_chunks_per_s"])
            if peer.get("dev_hit_at_5") is not None and s.get("dev_hit_at_5"):
                out[f"{n}_dev_hit_at_5_vs_peer"] = _div(s["dev_hit_at_5"]["hybrid"],
                                                        peer["dev_hit_at_5"])
    return out


def _div(a, b):
    return round(a / b, 3) if a is not None and b else None


def targets(r: dict) -> dict:
    sizes = {s["target_chunks"]: s for s in r["sizes"]}
    out = {}
    for n, key in ((20_000, "ask_p95_ms_20k"), (200_000, "ask_p95_ms_200k")):
        if n in sizes:
            v = sizes[n]["ask_ms"]["p95"]
            out[key] = {"value": v, "target": TARGETS[key], "met": v <= TARGETS[key]}
    for n, s in sizes.items():
        if s.get("hnsw"):
            v = s["hnsw"]["recall_at_10"]
            out[f"hnsw_recall_at_10_{n}"] = {"value": v, "target": 0.95, "met": v >= 0.95}
        if s["vectors"] == "real":
            v = s["index_vs_encoder"]
            out[f"index_vs_encoder_{n}"] = {"value": v, "target": 0.9, "met": v >= 0.9}
        v = s["reindex_noop_s"]
        out[f"reindex_noop_s_{n}"] = {"value": v, "target": 1.0, "met": v < 1.0}
    ask = r.get("cold_start_s", {}).get("ask")
    if ask is not None:
        out["cold_start_ask_s"] = {"value": ask, "target": 6.0, "met": ask < 6.0}
    return out


def notes(r: dict, quick: bool) -> list[str]:
    out = []
    for s in r["sizes"]:
        if s["vectors"] == "synthetic":
            out.append(f"{s['chunks']} chunks: index built from synthetic hash-projection "
                       "vectors (hashed bag of words, random projection to 384 dims), not the "
                       "model; questions embedded by the real model; dev hit@5 not measured; "
                       "HNSW recall uses hash-projected questions as queries.")
    if quick:
        out.append("--quick: raw encoder throughput timed on a 25% sample of the same texts "
                   "and scaled; the peer's embedding speed timed on 100 chunks and its index "
                   "built from our vectors of the same texts with the same model.")
    load = r["machine"]["load_avg_at_start"][0]
    if load > 0.5 * (r["machine"]["cores"] or 1):
        out.append(f"Shared machine: load average {load} at start; timings are noisy.")
    return out


def write_docs(result):
    pass


def main(args) -> int:
    quick = bool(getattr(args, "quick", False))
    result = run(quick)
    if not quick and not fake():
        write_docs(result)
    if getattr(args, "json", False):
        print(json.dumps(result, indent=2))
    else:
        print(json.dumps({k: result[k] for k in ("sizes", "cold_start_s", "peer", "ratios",
                                                  "targets", "notes")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
