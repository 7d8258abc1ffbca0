"""The benchmark's corpus generator, measuring helpers and (with synthetic vectors) its CLI."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from bench_corpus import (
    SECTION_MAX_CHARS,
    CorpusGenerator,
    HashProjectionEmbedder,
    Meter,
    PoolEmbedder,
    corpus_texts,
    dev_rows,
    locate,
    make_questions,
    overlaps,
    percentile,
    prose_sentences,
    summarize,
    touch_one_file,
    write_corpus,
)

ROOT = Path(__file__).resolve().parents[1]
POOL = [
    f"The {w} team reviewed the {v} records and found that most of them were complete."
    for w in ("first", "second", "third", "fourth", "fifth", "sixth", "seventh")
    for v in ("local", "regional", "national", "older", "newer", "shared", "archived", "digital")
] + ["Officers explained their decisions clearly, although some notes were brief."] * 3


def test_percentiles_and_summary():
    values = list(range(1, 101))
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 95) == pytest.approx(95.05)
    assert percentile([], 50) is None
    s = summarize([10.0, 20.0, 30.0, 40.0])
    assert s == {"p50": 25.0, "p95": 38.5, "mean": 25.0, "n": 4}
    assert summarize([])["p95"] is None


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


def test_bench_texts_are_exactly_what_the_index_embeds(tmp_path, fake_embedder):
    """The raw-encoder comparison must encode the same texts build_index does."""
    from ncpi_qa.index.store import build_index
    from ncpi_qa.settings import Settings

    write_corpus(tmp_path / "c", 30, POOL, ROOT / "corpus", seed=1)
    settings = Settings(corpus_dir=tmp_path / "c", store_dir=tmp_path / "s")
    with Meter() as m:
        report = build_index(settings, embedder=fake_embedder, log=lambda _: None)
    chunk_texts, sent_texts = corpus_texts(settings)
    assert report.texts_embedded == len(chunk_texts) + len(sent_texts)
    assert fake_embedder.texts_encoded == report.texts_embedded
    assert m.wall > 0 and m.cpu >= 0 and (m.peak_mb is None or m.peak_mb > 0)
    # one changed file: only it is embedded again
    before = fake_embedder.texts_encoded
    touch_one_file(tmp_path / "c", POOL)
    again = build_index(settings, embedder=fake_embedder, log=lambda _: None)
    assert again.embedded and len(again.embedded) == 1
    assert 0 < fake_embedder.texts_encoded - before < report.texts_embedded


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


def test_dev_supports_are_located_and_hits_need_overlap():
    from ncpi_qa.ingest.documents import load_document

    doc = load_document(ROOT / "corpus" / "ncpi-2019-commissioner-page.md")
    docs = [(doc.doc_id, doc.source, doc.text)]
    rows = [r for r in dev_rows(ROOT) if r.get("support")]
    assert rows
    locs = [locate(docs, r["support"], {doc.source}) for r in rows]
    assert all(locs)
    did, s, e = locs[0]
    assert overlaps(locs[0], [("other", s, e), (did, e - 1, e + 5)])
    assert not overlaps(locs[0], [(did, e, e + 50), ("other", s, e)])
    assert not overlaps(None, [(did, s, e)])
    gen = CorpusGenerator(POOL, seed=2)
    qs = make_questions(gen, rows, 200)
    assert len(qs) == 200 and qs[: len(rows)] == [r["question"] for r in rows]


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
