"""Manifest, incremental indexing, atomic writes and bad input, with a fake embedder."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from ncpi_qa.apps.advice import advice
from ncpi_qa.errors import CorpusNotFoundError, EmptyCorpusError, NoIndexError
from ncpi_qa.index.files_store import Store
from ncpi_qa.index.generations import current_generation, read_manifest
from ncpi_qa.index.store import build_index
from ncpi_qa.settings import Settings

from .conftest import FIXTURES


@pytest.fixture
def settings(fixture_corpus, tmp_path):
    return Settings(corpus_dir=fixture_corpus, store_dir=tmp_path / "store")


def quiet(msg):
    pass


def test_manifest_records_model_dim_chunking_and_hashes(settings, fake_embedder):
    report = build_index(settings, embedder=fake_embedder, log=quiet)
    m = read_manifest(settings.store_dir)
    assert m.model == fake_embedder.name and m.dim == fake_embedder.dim
    assert m.chunking["max_chars"] == settings.chunk_max_chars
    assert set(m.files) == {p.name for p in settings.corpus_dir.iterdir()}
    assert len({d.sha256 for d in m.documents}) == 4
    assert m.n_chunks == report.n_chunks > 0
    assert sorted(report.embedded) == sorted(d.doc_id for d in m.documents)


def test_second_run_embeds_nothing(settings, fake_embedder):
    build_index(settings, embedder=fake_embedder, log=quiet)
    calls = fake_embedder.calls
    gen = current_generation(settings.store_dir)
    report = build_index(settings, embedder=fake_embedder, log=quiet)
    assert report.up_to_date and fake_embedder.calls == calls
    assert "nothing to embed" in report.summary()
    assert current_generation(settings.store_dir) == gen  # nothing rewritten


def test_changing_one_file_reembeds_only_that_file(settings, fake_embedder):
    build_index(settings, embedder=fake_embedder, log=quiet)
    notes = settings.corpus_dir / "fixture-notes.txt"
    notes.write_text(notes.read_text() + "\nThe partnership also met twice in 2020.\n")
    before = fake_embedder.texts_encoded
    report = build_index(settings, embedder=fake_embedder, log=quiet)
    assert report.embedded == ["fixture-notes"]
    assert sorted(report.reused) == ["fixture-hub", "lakeside-response", "riverside-inspection"]
    store = Store.load(settings.store_dir)
    n_notes = sum(1 + len(c.sentences) for c in store.chunks if c.doc_id == "fixture-notes")
    assert fake_embedder.texts_encoded - before == n_notes
    assert "met twice in 2020" in store.documents["fixture-notes"].text


def test_removed_file_leaves_the_index(settings, fake_embedder):
    build_index(settings, embedder=fake_embedder, log=quiet)
    (settings.corpus_dir / "fixture-hub.html").unlink()
    report = build_index(settings, embedder=fake_embedder, log=quiet)
    assert report.removed == ["fixture-hub"]
    assert "fixture-hub" not in Store.load(settings.store_dir).documents


def test_store_vectors_line_up_with_chunks_and_sentences(settings, fake_embedder):
    build_index(settings, embedder=fake_embedder, log=quiet)
    store = Store.load(settings.store_dir)
    assert store.chunk_vectors.shape == (len(store.chunks), fake_embedder.dim)
    assert store.faiss_index.ntotal == len(store.chunks)
    c = store.chunks[-1]
    expect = fake_embedder.encode([c.embed_text()])[0]
    assert np.allclose(store.chunk_vectors[-1], expect, atol=1e-6)
    s, e = c.sentences[0]
    first = store.sentence_offsets[-1]
    sent = store.documents[c.doc_id].text[s:e]
    assert np.allclose(store.sentence_vectors[first], fake_embedder.encode([sent])[0], atol=1e-6)


@pytest.mark.parametrize("exc", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_crash_mid_build_leaves_previous_index_loadable(settings, fake_embedder, monkeypatch, exc):
    build_index(settings, embedder=fake_embedder, log=quiet)
    old = Store.load(settings.store_dir)
    (settings.corpus_dir / "extra.txt").write_text("Extra\n\nA new document about custody.\n")

    def boom(*a, **k):
        raise exc

    # after FAISS, before the switch
    monkeypatch.setattr("ncpi_qa.index.files_store.build_bm25", boom)
    with pytest.raises(type(exc)):
        build_index(settings, embedder=fake_embedder, log=quiet)
    again = Store.load(settings.store_dir)
    assert again.path == old.path
    assert set(again.documents) == set(old.documents) and "extra" not in again.documents
    leftovers = [p.name for p in settings.store_dir.iterdir() if p.name.startswith(".tmp")]
    assert leftovers == []
    monkeypatch.undo()
    report = build_index(settings, embedder=fake_embedder, log=quiet)
    # The crashed run's embeddings were cached: nothing is embedded twice.
    assert report.embedded == [] and "extra" in report.reused
    assert "extra" in Store.load(settings.store_dir).documents


def test_bad_files_are_skipped_with_reasons_and_rest_indexes(settings, fake_embedder):
    for p in (FIXTURES / "bad").iterdir():
        shutil.copy(p, settings.corpus_dir / p.name)
    logged = []
    report = build_index(settings, embedder=fake_embedder, log=logged.append)
    skipped = dict(report.skipped)
    assert set(skipped) == {p.name for p in (FIXTURES / "bad").iterdir()}
    assert "encrypted" in skipped["encrypted.pdf"] and "UTF-8" in skipped["latin1.txt"]
    assert len(report.indexed) == 4
    assert all(any(name in line for line in logged) for name in skipped)
    text = report.summary()
    assert "Indexed 4 documents" in text and "Skipped corrupt.pdf" in text


def test_corpus_with_no_readable_document_is_an_error(tmp_path, fake_embedder):
    corpus = tmp_path / "c"
    shutil.copytree(FIXTURES / "bad", corpus)
    s = Settings(corpus_dir=corpus, store_dir=tmp_path / "s")
    with pytest.raises(EmptyCorpusError, match="No readable document"):
        build_index(s, embedder=fake_embedder, log=quiet)
    with pytest.raises(CorpusNotFoundError):
        build_index(
            Settings(corpus_dir=tmp_path / "nope", store_dir=tmp_path / "s"),
            embedder=fake_embedder,
            log=quiet,
        )


def test_loading_without_an_index_says_what_to_do(tmp_path):
    with pytest.raises(NoIndexError, match="No index found") as e:
        Store.load(tmp_path / "empty")
    assert "ncpi-qa index" in advice(e.value, "cli")  # the command line says what to do


def test_documents_jsonl_holds_the_cited_text(settings, fake_embedder):
    build_index(settings, embedder=fake_embedder, log=quiet)
    gen = current_generation(settings.store_dir)
    rows = [json.loads(line) for line in (gen / "documents.jsonl").read_text().splitlines()]
    pdf = next(r for r in rows if r["kind"] == "pdf")
    assert [p[2] for p in pdf["pages"]] == [1, 2, 3]


# --- one writer at a time -------------------------------------------------------------------


def test_the_build_summary_counts_in_words():
    """ "1 document", not "1 documents" (the CLI prints this line after every build)."""
    from ncpi_qa.index.generations import BuildReport

    one = BuildReport(indexed=["a"], embedded=["a"], n_chunks=1, n_sentences=1, texts_embedded=2)
    assert one.summary().startswith("Indexed 1 document, 1 chunk, 1 sentence in ")
    assert "embedded 1 document (2 texts)" in one.summary()
