"""The benchmark's result: ratios to the peer, targets, notes, and docs/benchmarks.md with its
plot (written by a full ``make bench`` run)."""

from __future__ import annotations

import json
import time
from pathlib import Path

# issue 27's targets for the warm ask at 20k chunks (p95, p50 ms), index chunks/s against the
# peer's, and the 24-page upload's speed-up to answerable against fp32 (today's arithmetic)
ASK_P95_MS = {20_000: 120.0}
ASK_P50_MS = {20_000: 60.0}
INDEX_VS_PEER = 0.9
UPLOAD_SPEEDUP = 1.7


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
        fp32 = (s.get("fp32") or {}).get("index_chunks_per_s")
        out[f"{n}_fp32_index_chunks_per_s_vs_peer"] = _div(fp32, theirs)
        ours, theirs = s.get("dev_hit_at_5", {}).get("hybrid"), peer.get("dev_hit_at_5")
        out[f"{n}_dev_hit_at_5_vs_peer"] = _div(ours, theirs)
        pooled = s.get("pooled") or {}
        out[f"{n}_pooled_index_chunks_per_s_vs_peer"] = _div(
            pooled.get("index_chunks_per_s"), peer.get("index_chunks_per_s")
        )
    for s in r["sizes"]:  # issue 27: one pass per chunk against one per chunk and sentence
        pooled = s.get("pooled") or {}
        out[f"{s['target_chunks']}_pooled_vs_separate_index_chunks_per_s"] = _div(
            pooled.get("index_chunks_per_s"), s["index_chunks_per_s"]
        )
    for s in r["sizes"]:  # issue 27: the default precision against fp32, same run
        n, f = s["target_chunks"], s.get("fp32") or {}
        out[f"{n}_index_chunks_per_s_vs_fp32"] = _div(
            s["index_chunks_per_s"], f.get("index_chunks_per_s")
        )
        sf = s.get("serve_fp32") or {}
        for q in ("p50", "p95"):
            out[f"{n}_ask_{q}_vs_fp32"] = _div(s["ask_ms"][q], sf.get("ask_ms", {}).get(q))
    reader = r.get("reader") or {}
    for v in ("bf16", "int8"):
        for q in ("p50", "p95"):
            out[f"reader_{v}_vs_fp32_{q}"] = reader.get(f"{v}_vs_fp32_{q}")
    out["upload_to_answerable_fp32_vs_default"] = (r.get("upload") or {}).get("speedup")
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
        check(f"ask_p50_ms_{n}", s["ask_ms"]["p50"] if n in ASK_P50_MS else None, ASK_P50_MS.get(n))
        check(f"hnsw_recall_at_10_{n}", s.get("hnsw", {}).get("recall_at_10"), 0.95, True)
        if s["vectors"] == "real":
            check(f"index_vs_encoder_{n}", s["index_vs_encoder"], 0.9, True)
            check(f"index_vs_encoder_in_run_{n}", s["index_vs_encoder_in_run"], 0.9, True)
        check(f"reindex_noop_s_{n}", s["reindex_noop_s"], 1.0)
    check("cold_start_ask_s", r["cold_start_s"]["ask"], 2.0)  # issue 27: median of 3
    check("cold_start_app_s", r["cold_start_s"].get("app"), 4.0)
    for key, v in ratios(r).items():
        if key.endswith("_index_chunks_per_s_vs_peer") and key[0].isdigit():
            if "_pooled_" not in key and "_fp32_" not in key:  # the default settings
                check(key, v, INDEX_VS_PEER, True)
    check("upload_to_answerable_speedup_vs_fp32", (r.get("upload") or {}).get("speedup"),
          UPLOAD_SPEEDUP, True)  # fmt: skip
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
MILVUS_TABLE = [
    "chunks=milvus.chunks", "Milvus index=milvus.index", "write s=milvus.index_s",
    "write chunks/s=milvus.index_chunks_per_s", "re-index unchanged s=milvus.reindex_noop_s",
    "ask p50 / p95 ms=milvus.ask_ms.p50/milvus.ask_ms.p95",
    "retrieve p50 / p95=milvus.retrieve_ms.p50/milvus.retrieve_ms.p95",
    "FAISS ask p50 / p95=ask_ms.p50/ask_ms.p95", "store load s=milvus.store_load_s",
    "server RSS MB=milvus.server_rss_mb", "answers = FAISS=milvus.same_answers_as_faiss",
]  # fmt: skip
POOLED_TABLE = [
    "chunks=chunks", "texts through the model: separate / pooled=separate.texts_embedded/"
    "pooled.texts_embedded", "index s: separate / pooled=separate.index_s/pooled.index_s",
    "index chunks/s: separate / pooled=separate.index_chunks_per_s/pooled.index_chunks_per_s",
    "CPU pressure: separate / pooled=separate.cpu_pressure.index/pooled.cpu_pressure",
    "peak RSS MB: separate / pooled=separate.peak_rss_index_mb/pooled.peak_rss_index_mb",
]  # fmt: skip
READER_TABLE = [
    "arithmetic=name", "p50 / p95 ms=ms.p50/ms.p95", "÷ fp32 p50 / p95=p50/p95",
    "same best candidate as fp32=top", "same span=span",
    "mean / max logit difference=diff.mean/diff.max", "load s=load",
]  # fmt: skip
PRECISION_INDEX_TABLE = [
    "chunks=chunks", "index s: fp32 / default=fp32.index_s/index_s",
    "index chunks/s: fp32 / default=fp32.index_chunks_per_s/index_chunks_per_s",
    "encoder texts/s: fp32 / default=fp32.encoder_texts_per_s/encoder_texts_per_s",
    "CPU pressure: fp32 / default=fp32.cpu_pressure.index/cpu_pressure.index",
]  # fmt: skip
PRECISION_ASK_TABLE = [
    "chunks=chunks", "ask p50 / p95 ms, fp32=serve_fp32.ask_ms.p50/serve_fp32.ask_ms.p95",
    "ask p50 / p95 ms, default=ask_ms.p50/ask_ms.p95",
    "answer p50 / p95, fp32=serve_fp32.answer_ms.p50/serve_fp32.answer_ms.p95",
    "answer p50 / p95, default=answer_ms.p50/answer_ms.p95",
    "CPU pressure fp32 / default=serve_fp32.ask_cpu_pressure/ask_cpu_pressure",
    "ask p50 / p95 ms, default with torch's threads=serve_threads_default.ask_ms.p50/"
    "serve_threads_default.ask_ms.p95",
]  # fmt: skip
UPLOAD_TABLE = [
    "arithmetic=arm", "chunks=chunks", "texts embedded=texts_embedded", "index s=index_s",
    "first answer s=first_answer_s", "to answerable s=to_answerable_s", "tier=tier",
    "fact quoted=fact_quoted",
]  # fmt: skip


def _reader_rows(rd: dict) -> list[dict]:
    rows = [{"name": "fp32", "ms": rd["fp32_ms"], "p50": 1.0, "p95": 1.0, "top": 1.0,
             "span": 1.0, "load": rd["load_s"].get("fp32")}]  # fmt: skip
    for v in ("bf16", "int8"):
        if f"{v}_ms" in rd:
            rows.append({"name": v, "ms": rd[f"{v}_ms"], "p50": rd[f"{v}_vs_fp32_p50"],
                         "p95": rd[f"{v}_vs_fp32_p95"], "top": rd[f"{v}_same_best_candidate"],
                         "span": rd[f"{v}_same_span"], "diff": rd[f"{v}_logit_abs_diff"],
                         "load": rd["load_s"].get(v)})  # fmt: skip
    return rows


PEER_TABLE = [
    "chunks=chunks", "index s=index_s", "index chunks/s=index_chunks_per_s", "insert s=insert_s",
    "query p50 / p95 ms=query_ms.p50/query_ms.p95", "peak RSS MB=peak_rss_mb",
    "dev hit@5=dev_hit_at_5", "how=index_method",
]  # fmt: skip


def _precision_sections(r: dict) -> list[str]:
    """fp32 against the default arithmetic (bf16 where the CPU has it): indexing, asking,
    the upload, and the reader's three variants."""
    L = ["", "## Arithmetic: fp32 against the default (`precision: auto`), same run", ""]
    with_fp32 = [row for row in r["sizes"] if row.get("fp32")]
    if with_fp32:
        L += _table(with_fp32, PRECISION_INDEX_TABLE) + [""]
    with_serve = [row for row in r["sizes"] if row.get("serve_fp32")]
    if with_serve:
        L += _table(with_serve, PRECISION_ASK_TABLE) + [""]
        L += ["Default: `precision: auto` (bf16 where the CPU has it) and `ask_threads: 1`; fp32: "
              "`NCPI_QA_PRECISION=fp32`, one thread; torch's threads: `NCPI_QA_ASK_THREADS=0` "
              "(one per core), bf16. Each arm asks the same 200 questions in its own process, "
              "one after the other.", ""]  # fmt: skip
    up = r.get("upload")
    if up:
        rows = [{"arm": k, **v} for k, v in up.items() if isinstance(v, dict)]
        L += ["The 24-page report PDF (tools/bench/bench_upload.py: contents page, header and "
              "footer, bookmarks, one planted fact) added to the shipped corpus and indexed as "
              "the chat indexes an upload, to the first answer about the fact "
              f"(speed-up {up.get('speedup')}×):", ""]  # fmt: skip
        L += _table(rows, UPLOAD_TABLE) + [""]
    rd = r.get("reader")
    if rd:
        L += [f"The reader alone ({rd['candidates']} candidates, {rd['questions']} questions, "
              f"round-robin in one process; bf16 in hardware: {rd.get('bf16_in_hardware')}):",
              ""] + _table(_reader_rows(rd), READER_TABLE) + [""]  # fmt: skip
    L += ["Answer figures of each arithmetic: `python tools/bench/compare_eval.py precision` "
          "(and `reader_int8`); evals/README.md has the last run's."]  # fmt: skip
    return L


def write_docs(r: dict, docs: Path) -> None:
    docs.mkdir(parents=True, exist_ok=True)
    _plot(r, docs / "benchmarks.png")
    m, pb = r["machine"], r.get("peer_by_size", {})
    peers = list(pb.values())
    when = r.get("started") or time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    L = ["# Benchmarks", "", "Made by `make bench` (= `ncpi-qa bench`; `--quick`: smallest size "
         "only; `--json`: all figures). Generated by tools/bench/bench_report.py: edit that, not "
         "this.",
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
    pooled = [{"chunks": row["chunks"], "separate": row, "pooled": row["pooled"]}
              for row in r["sizes"] if row.get("pooled")]  # fmt: skip
    if pooled:
        L += ["", "## Sentence vectors: separate against pooled (same corpus, same run)", ""]
        L += _table(pooled, POOLED_TABLE)
        L += ["", "Separate: every chunk and every sentence through the model "
              "(sentence-transformers); pooled (`sentence_vectors: pooled`): each chunk once "
              "(the lean encoder), its sentences' vectors the mean of the chunk pass's token "
              "states over each sentence. Answer figures of each: "
              "`python tools/bench/compare_eval.py sentence_vectors`."]  # fmt: skip
    L += _precision_sections(r)
    L += ["", "## Asking (200 questions, warm)", ""] + _table(r["sizes"], ASK_TABLE)
    L += ["", "HNSW recall@10: against exact search, for the 200 questions' vectors; probe = "
          "True where the store is exact at that size and an HNSW index built as larger stores "
          "get it was measured instead."]  # fmt: skip
    with_milvus = [row for row in r["sizes"] if row.get("milvus")]
    if with_milvus:
        L += ["", "## The Milvus backend (local milvus-lite server), same chunks and questions",
              ""] + _table(with_milvus, MILVUS_TABLE)  # fmt: skip
        L += ["", "Write: the build from the FAISS run's vector cache (nothing re-embedded) into "
              "a local `milvus-lite server` on 127.0.0.1, a pure-Python stand-in, not a Milvus "
              "cluster; see docs/scaling.md."]  # fmt: skip
    L += ["", "## Peer: llama-index on defaults, same chunks", ""] + _table(peers, PEER_TABLE)
    pe = r.get("pool_embedding")
    if pe:
        L += ["", f"Stand-in vectors: {pe['texts']} pool sentences embedded once by the model in "
              f"{pe['s']} s ({pe['texts_per_s']} texts/s)."]  # fmt: skip
    L += ["", "## Cold start", ""]
    L += [f"- {k}: {v.get('s')} s, runs {v.get('runs_s')} ({v.get('method', v)})" for k, v in
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
