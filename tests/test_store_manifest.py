"""The typed manifest (index/manifest.py) and the build's stages over a plan (index/plan.py,
index/build.py), with the hashing embedder."""

from __future__ import annotations

import json

import pytest

from ncpi_qa.errors import IndexIncompatibleError
from ncpi_qa.index import build
from ncpi_qa.index.files_store import Store
from ncpi_qa.index.generations import BuildReport, current_generation, read_manifest
from ncpi_qa.index.manifest import Manifest
from ncpi_qa.index.plan import BuildPlan, scan
from ncpi_qa.index.progress import Tracker
from ncpi_qa.index.store import build_index
from ncpi_qa.settings import Settings


def quiet(msg):
    pass


@pytest.fixture
def settings(fixture_corpus, tmp_path):
    return Settings(corpus_dir=fixture_corpus, store_dir=tmp_path / "store")


def test_the_manifest_on_disk_is_the_typed_one(settings, fake_embedder):
    report = build_index(settings, embedder=fake_embedder, log=quiet)
    m = read_manifest(settings.store_dir)
    assert isinstance(m, Manifest) and Store.load(settings.store_dir).manifest == m
    on_disk = json.loads((current_generation(settings.store_dir) / "manifest.json").read_text())
    assert Manifest.parse(on_disk) == m and on_disk["faiss"] == m.faiss == "flat-ip"
    assert [d.doc_id for d in m.documents] == report.indexed
    assert m.n_sentences == report.n_sentences and m.skipped == report.skipped
    # read by attribute only: no dict-style reads for a caller to slide back to
    assert m.document(report.indexed[0]) is m.documents[0] and m.milvus_index is None
    for read in (
        lambda: m["documents"],
        lambda: m.get("built_at"),
        lambda: m.documents[0]["doc_id"],
    ):
        with pytest.raises((TypeError, AttributeError)):
            read()


def test_a_manifest_this_version_cannot_read_means_a_whole_new_build(settings, fake_embedder):
    build_index(settings, embedder=fake_embedder, log=quiet)
    path = current_generation(settings.store_dir) / "manifest.json"
    data = json.loads(path.read_text())
    del data["documents"]
    path.write_text(json.dumps(data))
    assert read_manifest(settings.store_dir) is None
    with pytest.raises(IndexIncompatibleError, match="manifest is damaged"):
        Store.load(settings.store_dir)
    report = build_index(settings, embedder=fake_embedder, log=quiet)
    assert not report.up_to_date and len(report.reused) == 4  # the vector cache still serves
    assert read_manifest(settings.store_dir).n_chunks == report.n_chunks


def test_the_stages_one_by_one(settings, fake_embedder):
    """load -> chunk -> embed, each over the plan: the second plan finds every vector cached."""
    entries = scan(settings.corpus_dir, settings.max_file_mb)
    plan = BuildPlan(settings, fake_embedder.name, entries, log=quiet)
    report, track = BuildReport(), Tracker(None)
    docs = build.load(plan, track, report)
    assert len(docs) == len(entries) == 4 and report.skipped == []
    parts = build.chunk(plan, docs, track)
    assert all(p.chunks and p.chunk_vecs is None for p in parts)
    build.embed(plan, parts, fake_embedder, track, report)
    assert sorted(report.embedded) == sorted(d.doc_id for d in docs)
    assert all(p.cache_file.exists() and p.indexed_at for p in parts)
    assert all(len(p.sent_vecs) == sum(len(c.sentences) for c in p.chunks) for p in parts)
    again, report2 = build.chunk(plan, docs, track), BuildReport()
    build.embed(plan, again, None, track, report2)  # no embedder needed: all cached
    assert report2.embedded == [] and len(report2.reused) == 4
    other = BuildPlan(settings, "another-model", entries)
    assert other.cache_file(docs[0]) != plan.cache_file(docs[0])
