"""The benchmark (tools/bench): corpus generator, stand-in embedders, measuring helpers, the
up-front check of its extra, and (with synthetic vectors) its CLI."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from bench_corpus import (
    SECTION_MAX_CHARS,
    CorpusGenerator,
    corpus_texts,
    dev_rows,
    make_questions,
    prose_sentences,
    touch_one_file,
    write_corpus,
)
from bench_embedders import HashProjectionEmbedder, PoolEmbedder
from bench_measure import Meter, dev_hits, hit, shipped_only, summarize

ROOT = Path(__file__).resolve().parents[1]
POOL = [
    f"The {w} team reviewed the {v} records and found that most of them were complete."
    for w in ("first", "second", "third", "fourth", "fifth", "sixth", "seventh")
    for v in ("local", "regional", "national", "older", "newer", "shared", "archived", "digital")
] + ["Officers explained their decisions clearly, although some notes were brief."] * 3


def test_summary():
    s = summarize([10.0, 20.0, 30.0, 40.0])
    assert s == {"p50": 25.0, "p95": 38.5, "mean": 25.0, "n": 4}
    assert summarize([40.0, 10.0, 30.0, 20.0]) == s  # order does not matter
    assert summarize([]) == {"p50": None, "p95": None, "mean": None, "n": 0}


def test_prose_sentences_keep_prose_drop_code_and_noise():
    text = (
        "This package provides a small library for parsing configuration files safely.\n"
        "It is maintained by the Debian team.\n\n"
        "  * Fix crash in foo() (Closes: #123456)\n"
        "See https://example.org/x for details, or run make install now please.\n"
    )
    got = prose_sentences(text)
    assert got == [
        "This package provides a small library for parsing configuration files safely.",
    ]


def test_generated_corpus_has_one_chunk_per_section(tmp_path):
    from ncpi_qa.settings import Settings

    info = write_corpus(tmp_path / "c", 120, POOL, ROOT / "corpus", seed=3, sections_per_doc=50)
    assert info["files"] == 3 and info["topical"] > 0
    assert (tmp_path / "c" / "ncpi-2019-commissioner-page.md").exists()
    settings = Settings(corpus_dir=tmp_path / "c", store_dir=tmp_path / "s")
    chunk_texts, sent_texts = corpus_texts(settings)
    shipped, _ = corpus_texts(Settings(corpus_dir=ROOT / "corpus", store_dir=tmp_path / "x"))
    assert len(chunk_texts) == 120 + len(shipped)
    assert len(sent_texts) > len(chunk_texts)
    body = (tmp_path / "c" / "report-00001.md").read_text()
    for section in body.split("\n## ")[1:]:
        assert len(section.split("\n\n", 1)[1].strip()) <= SECTION_MAX_CHARS
    # deterministic: the same seed writes the same bytes
    write_corpus(tmp_path / "d", 120, POOL, ROOT / "corpus", seed=3, sections_per_doc=50)
    assert body == (tmp_path / "d" / "report-00001.md").read_text()


def test_touching_one_file_appends_a_section_and_meter_measures(tmp_path):
    write_corpus(tmp_path / "c", 30, POOL, seed=1, sections_per_doc=10)
    files = sorted((tmp_path / "c").glob("report-*.md"))
    before = {p: p.read_text() for p in files}
    with Meter() as m:
        path = touch_one_file(tmp_path / "c", POOL)
    assert path == files[-1]
    after = path.read_text()
    assert after.startswith(before[path]) and "\n## Addendum: " in after[len(before[path]) :]
    assert all(p.read_text() == before[p] for p in files[:-1])
    assert m.wall > 0 and m.cpu >= 0 and (m.peak_mb is None or m.peak_mb > 0)


def test_hash_projection_embedder_is_normalised_and_text_like():
    emb = HashProjectionEmbedder(dim=64, n_features=2**10)
    v = emb.encode(["child protection inspections", "child protection reviews", "cooking pasta"])
    assert v.shape == (3, 64) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2]
    assert np.array_equal(
        v,
        HashProjectionEmbedder(dim=64, n_features=2**10).encode(
            ["child protection inspections", "child protection reviews", "cooking pasta"]
        ),
    )


def test_pool_embedder_means_the_model_vectors_of_a_texts_sentences(fake_embedder):
    pool = POOL[:4] + POOL[:1]  # a duplicate text, as a splice may repeat
    emb = PoolEmbedder(pool, fake_embedder.encode(pool), fake_embedder)
    fake_embedder.texts_encoded = 0
    chunk = f"Report 1: a title — Section 2\n{pool[0]} {pool[1]}\n\n{pool[2]}"
    new = "Inspectors visited every district in the spring of that year."
    v = emb.encode([pool[3], chunk, new, f"A heading\n{new}"])
    want = fake_embedder.encode(pool[:3]).sum(axis=0)
    assert np.allclose(v[1], want / np.linalg.norm(want), atol=1e-5)
    assert np.allclose(v[0], fake_embedder.encode([pool[3]])[0], atol=1e-5)
    assert np.allclose(v[2], fake_embedder.encode([new])[0], atol=1e-5)
    assert np.allclose(v[2], v[3]) and emb.model_encoded == 1  # embedded once, then remembered
    assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)


def test_hit_needs_an_overlap_in_the_same_document():
    support = [("a", 10, 20), ("b", 0, 5)]
    assert hit(support, [("x", 10, 20), ("a", 19, 30)])  # one shared character
    assert hit(support, [("b", 4, 9)])
    assert not hit(support, [("a", 20, 30), ("a", 0, 10), ("x", 10, 20)])  # touching, other doc
    assert not hit([], [("a", 10, 20)])  # support not found: a miss


def test_dev_rows_are_the_answerable_rows_with_a_support():
    rows = dev_rows(ROOT)
    all_rows = [json.loads(x) for x in (ROOT / "evals" / "dev.jsonl").read_text().splitlines() if x]
    assert [r["id"] for r in rows] == [r["id"] for r in all_rows if r.get("support")]
    assert rows and all(r["support"] and not r["unanswerable"] for r in rows)
    json.dumps(rows)  # they travel to the child processes as JSON
    assert dev_rows(ROOT / "tests") == []  # no evals/dev.jsonl there
    gen = CorpusGenerator(POOL, seed=2)
    qs = make_questions(gen, rows, 200)
    assert len(qs) == 200 and qs[: len(rows)] == [r["question"] for r in rows]


def test_dev_hits_on_a_store_look_only_in_shipped_documents(fake_index):
    """The serve phase's dev hit@5, on a real (hashing-embedder) store of the fixture corpus:
    a support is found in the shipped documents only, and a hit needs overlapping text."""
    from ncpi_qa.evals.dataset import load_dataset
    from ncpi_qa.index.files_store import Store

    store = Store.load(fake_index.store_dir)
    rows = [vars(r) for r in load_dataset(ROOT / "evals" / "fixtures.jsonl") if r.support]
    row = next(r for r in rows if r["page"] == 3)
    sources = {d.source for d in store.documents.values()}
    docs = shipped_only(store.documents, sources)
    assert docs == store.documents
    holder = next(
        c
        for c in store.chunks
        if row["support"][:40] in store.documents[c.doc_id].text[c.start : c.end]
    )
    other = next(c for c in store.chunks if c.doc_id != holder.doc_id)
    own = (holder.doc_id, holder.start, holder.end)
    wrong = (other.doc_id, holder.start, holder.end)  # the same offsets in another document
    assert dev_hits([row, row], docs, [[wrong, own], [wrong]]) == [True, False]
    not_shipped = shipped_only(store.documents, sources - {store.documents[holder.doc_id].source})
    assert dev_hits([row], not_shipped, [[own]]) == [False]


def test_missing_finds_modules_without_importing_them():
    import bench

    gone = bench.missing(["json", "no_such_module_zq", "no_such_package_zq.sub", "os.path"])
    assert gone == ["no_such_module_zq", "no_such_package_zq.sub"]


@pytest.mark.parametrize("faked", [False, True])
def test_bench_without_its_extra_stops_at_once_and_says_make_bench(monkeypatch, capsys, faked):
    """`ncpi-qa bench` checks its packages before building anything (the peer's only when it
    runs: not with NCPI_QA_BENCH_FAKE)."""
    import bench

    from ncpi_qa.apps.cli import main

    monkeypatch.setenv("NCPI_QA_BENCH_FAKE", "1" if faked else "0")
    monkeypatch.setitem(bench.EXTRA, "no_such_peer_module_zq", "no-such-peer-package")
    monkeypatch.setitem(bench.ALWAYS, "no_such_module_zq", "no-such-package")
    monkeypatch.setattr(bench, "run", lambda quick: pytest.fail("ran before checking"))
    assert main(["bench", "--quick"]) == 1
    err = capsys.readouterr().err
    assert "make bench" in err and "no-such-package" in err and "Traceback" not in err
    assert ("no-such-peer-package" in err) is not faked


@pytest.mark.slow
def test_bench_cli_with_synthetic_vectors(monkeypatch, capsys):
    """`ncpi-qa bench --quick --json` end to end on a small corpus with the synthetic embedder
    (no model, no peer, no cold start): the JSON has the documented keys."""
    import bench

    monkeypatch.setenv("NCPI_QA_BENCH_FAKE", "1")
    monkeypatch.setenv("NCPI_QA_BENCH_SIZES", "200")
    assert bench.main(SimpleNamespace(quick=True, json=True)) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"sizes", "cold_start_s", "peer", "ratios", "targets", "notes"}
    size = out["sizes"][0]
    for key in (
        "chunks",
        "index_chunks_per_s",
        "encoder_chunks_per_s",
        "peak_rss_mb",
        "reindex_noop_s",
        "reindex_one_changed_s",
        "index_vs_encoder",
    ):
        assert size[key] is not None, key
    assert size["chunks"] >= 200 and size["ask_ms"]["n"] == 200
    assert size["ask_ms"]["p50"] <= size["ask_ms"]["p95"]
    assert size["reindex_noop_up_to_date"] is True
    assert set(out["cold_start_s"]) == {"ask", "app"}


def test_bench_not_installed_says_make_bench(monkeypatch, capsys):
    """Without the ncpi-qa-bench distribution's entry point, `ncpi-qa bench` says how to get
    it (the runtime never reaches into tools/ by path)."""
    import importlib.metadata

    from ncpi_qa.apps.cli import main

    real = importlib.metadata.entry_points

    def without_bench(**kw):
        if kw.get("group") == "ncpi_qa.tools":
            return importlib.metadata.EntryPoints(())
        return real(**kw)

    monkeypatch.setattr(importlib.metadata, "entry_points", without_bench)
    assert main(["bench", "--quick"]) == 1
    err = capsys.readouterr().err
    assert "make bench" in err and "not installed" in err and "Traceback" not in err


def test_upload_pdf_is_a_report_with_its_fact_on_page_17(tmp_path):
    """bench_upload's PDF reads as a report: 24 pages, bookmarks, a contents page, the planted
    fact on page 17 (read back by the app's own PDF loader)."""
    from bench_upload import FACT, PAGES, make_pdf
    from pypdf import PdfReader

    from ncpi_qa.ingest.documents import load_document

    pdf = make_pdf(tmp_path / "area-review.pdf", POOL)
    reader = PdfReader(str(pdf))
    assert len(reader.pages) == PAGES == 24
    assert len(reader.outline) >= 5  # one bookmark per chapter
    assert "Contents" in reader.pages[0].extract_text()
    assert "37 referrals" in reader.pages[16].extract_text()
    doc = load_document(pdf)
    assert " ".join(FACT.split()) in " ".join(doc.text.split())


def test_report_reads_the_precision_arms():
    """ratios and targets compare the default arithmetic with fp32 and the peer, from the
    figures given (none computed here)."""
    from bench_report import ratios, targets

    size = {"target_chunks": 1000, "vectors": "real", "chunks": 1000, "index_chunks_per_s": 50.0,
            "fp32": {"index_chunks_per_s": 25.0}, "ask_ms": {"p50": 50.0, "p95": 100.0},
            "retrieve_ms": {"p50": 20.0}, "peak_rss_mb": 900, "index_vs_encoder": 1.0,
            "index_vs_encoder_in_run": 1.0, "reindex_noop_s": 0.01, "texts_embedded": 6000,
            "serve_fp32": {"ask_ms": {"p50": 100.0, "p95": 250.0}}}  # fmt: skip
    peer = {"query_ms": {"p50": 10.0, "p95": 20.0}, "peak_rss_mb": 900,
            "index_chunks_per_s": 40.0}  # fmt: skip
    r = {"sizes": [size], "peer_by_size": {"1000": peer}, "cold_start_s": {"ask": 1.5},
         "upload": {"speedup": 2.0}, "reader": {"bf16_vs_fp32_p50": 0.5}}  # fmt: skip
    got = ratios(r)
    assert got["1000_index_chunks_per_s_vs_peer"] == 1.25
    assert got["1000_fp32_index_chunks_per_s_vs_peer"] == 0.625
    assert got["1000_index_chunks_per_s_vs_fp32"] == 2.0
    assert got["1000_ask_p95_vs_fp32"] == 0.4 and got["reader_bf16_vs_fp32_p50"] == 0.5
    t = targets(r)
    assert t["1000_index_chunks_per_s_vs_peer"]["met"] is True
    assert "1000_fp32_index_chunks_per_s_vs_peer" not in t  # the baseline is not a target
    assert t["upload_to_answerable_speedup_vs_fp32"] == {"value": 2.0, "target": 1.7, "met": True}
    assert t["cold_start_ask_s"]["met"] is True
