"""The index on a real Milvus server (issue 19): a local ``milvus-lite server`` on 127.0.0.1
and a free port, started here and stopped at the end. Every test indexes under its own
collection prefix. Expected facts come from the documents; the Milvus backend is compared with
the FAISS files backend built from the same corpus with the same embedder."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from .conftest import ROOT, SHIPPED_CORPUS, free_port, run_cli

pytest.importorskip("pymilvus", reason="the milvus extra is not installed (make install-test)")
pytest.importorskip("milvus_lite", reason="the milvus extra is not installed (make install-test)")

pytestmark = pytest.mark.milvus
quiet = lambda m: None  # noqa: E731


@pytest.fixture(scope="module")
def milvus_uri(tmp_path_factory):
    from pymilvus import MilvusClient

    port = free_port()
    data = tmp_path_factory.mktemp("milvus-data")
    log = open(data.parent / "milvus-server.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(data),
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert server.poll() is None, (data.parent / "milvus-server.log").read_text()
        try:
            MilvusClient(uri=uri, timeout=2).list_collections()
            break
        except Exception:
            assert time.monotonic() < deadline, "milvus-lite server did not start in 60 s"
            time.sleep(0.2)
    yield uri
    server.terminate()
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(5)
    log.close()


def _milvus_env(settings) -> dict:
    return {
        "NCPI_QA_VECTOR_STORE": "milvus",
        "NCPI_QA_MILVUS_URI": settings.milvus_uri,
        "NCPI_QA_MILVUS_COLLECTION_PREFIX": settings.milvus_collection_prefix,
        "NCPI_QA_CORPUS_DIR": str(settings.corpus_dir),
        "NCPI_QA_STORE_DIR": str(settings.store_dir),
    }


@pytest.fixture
def on_milvus(milvus_uri, tmp_path):
    """Settings factory: a corpus folder, a store folder (vector cache, lock) and a fresh
    collection prefix on the test server."""
    from ncpi_qa.settings import Settings

    prefix = f"t{uuid.uuid4().hex[:10]}"

    def make(corpus: Path, name: str = "milvus", **kw) -> Settings:
        return Settings(
            corpus_dir=corpus, store_dir=tmp_path / name, vector_store="milvus",
            milvus_uri=milvus_uri, milvus_collection_prefix=prefix, **kw,
        )  # fmt: skip

    return make


QUESTIONS = [
    "children detained overnight in custody",
    "How many referrals did schools make?",
    "how many inspections were there",
    "What did the hub do with the notes?",
    "zzzzqx wwwwy",
]


def test_fixture_corpus_retrieves_as_faiss(fixture_corpus, fake_index, fake_embedder, on_milvus):
    from ncpi_qa.index.backend import open_store
    from ncpi_qa.index.files_store import Store
    from ncpi_qa.index.milvus_store import MilvusStore
    from ncpi_qa.index.store import build_index
    from ncpi_qa.qa.retrieve import Retriever

    ms = on_milvus(fixture_corpus)
    report = build_index(ms, embedder=fake_embedder, log=quiet)
    files, mil = Store.load(fake_index.store_dir), open_store(ms)
    assert report.n_chunks == files.manifest.n_chunks
    assert isinstance(mil, MilvusStore) and set(mil.documents) == set(files.documents)
    assert mil.documents["fixture-notes"].text == files.documents["fixture-notes"].text
    assert [c.chunk_id for c in mil.chunks] == [c.chunk_id for c in files.chunks]
    a, b = Retriever(files, fake_embedder), Retriever(mil, fake_embedder)
    for q in QUESTIONS:
        v = fake_embedder.encode([q])[0]
        hits, ranks = b.retrieve(q, v, 5)
        want_hits, want_ranks = a.retrieve(q, v, 5)
        assert ranks == want_ranks, q
        assert [h.chunk_id for h in hits] == [h.chunk_id for h in want_hits], q
        for h, w in zip(hits, want_hits, strict=True):  # bm25s's scale, float32 close
            assert h.bm25 == pytest.approx(w.bm25, rel=1e-5) if w.bm25 else h.bm25 is None
            assert h.dense == pytest.approx(w.dense, abs=1e-5)
    top = mil.chunks[
        b.search(QUESTIONS[0], fake_embedder.encode([QUESTIONS[0]])[0], 1)[0].chunk_index
    ]
    assert top.doc_id == "riverside-inspection" and top.page == 2  # the custody page
    assert b.lexical("zzzzqx wwwwy", 5) == []
    c = mil.chunks[-1]
    s, e = c.sentences[-1]
    sent = mil.documents[c.doc_id].text[s:e]
    got = mil.sentence_vectors_for([len(mil.chunks) - 1])[0]
    assert got.shape == (len(c.sentences), fake_embedder.dim)
    assert np.allclose(got[-1], fake_embedder.encode([sent])[0], atol=1e-6)
    assert np.allclose(
        mil.chunk_vectors_for([0])[0],
        fake_embedder.encode([mil.chunks[0].embed_text()])[0],
        atol=1e-6,
    )
    assert mil.document_frequencies() == files.document_frequencies()


def test_builds_switch_the_alias_keep_the_previous_and_reuse_the_cache(
    fixture_corpus, fake_embedder, on_milvus
):
    from ncpi_qa.index.backend import get_backend, open_store
    from ncpi_qa.index.store import build_index

    ms = on_milvus(fixture_corpus)
    first = build_index(ms, embedder=fake_embedder, log=quiet)
    old = open_store(ms)
    assert not old.is_stale() and old.reloaded() is old
    (fixture_corpus / "late.txt").write_text(
        "Late\n\nA late note: 9 children were seen in Oldtown.\n"
    )
    second = build_index(ms, embedder=fake_embedder, log=quiet)
    assert second.embedded == ["late"] and sorted(second.reused) == sorted(first.indexed)
    assert old.is_stale() and "late" not in old.documents
    v = fake_embedder.encode(["children seen in Oldtown"])[0]
    assert old.dense_search(v, 3)  # the generation it loaded still answers
    new = old.reloaded()
    assert "late" in new.documents and not new.is_stale()
    hit = new.chunks[new.bm25_search("children seen in Oldtown", 1)[0][0]]
    assert hit.doc_id == "late"
    backend = get_backend(ms)
    assert len(backend.generations()) == 2  # the live one and the one before
    (fixture_corpus / "late.txt").unlink()
    third = build_index(ms, embedder=fake_embedder, log=quiet)
    assert third.removed == ["late"] and third.texts_embedded == 0
    gens = backend.generations()
    assert len(gens) == 2 and old.generation not in gens and new.generation in gens
    assert "late" not in open_store(ms).documents
    assert build_index(ms, embedder=fake_embedder, log=quiet).up_to_date


def test_a_second_writer_is_refused_with_a_clear_error(fixture_corpus, fake_embedder, on_milvus):
    from ncpi_qa.errors import IndexWriterBusyError
    from ncpi_qa.index.milvus_lease import WriterLease, milvus_client
    from ncpi_qa.index.store import build_index

    ms = on_milvus(fixture_corpus)
    build_index(ms, embedder=fake_embedder, log=quiet)
    (fixture_corpus / "late.txt").write_text("Late\n\nA late note about custody.\n")
    # another machine's build (its own store folder, so no shared file lock) holds the lease
    other = on_milvus(fixture_corpus, name="elsewhere", index_lock_timeout=1.0)
    lease = WriterLease(
        milvus_client(ms.milvus_uri, None), f"{ms.milvus_collection_prefix}_writer", 60, "x"
    )
    logged: list[str] = []
    with lease.held(5):
        with pytest.raises(IndexWriterBusyError) as e:
            build_index(other, embedder=fake_embedder, log=logged.append)
    assert e.value.code == "index_writer_busy"
    assert "one build at a time" in str(e.value) and f"pid {os.getpid()}" in str(e.value)
    assert any("waiting up to 1s" in m for m in logged)
    assert "late" in build_index(other, embedder=fake_embedder, log=quiet).indexed  # freed


KILLED = r"""
import os, sys, time
from pathlib import Path

stage, marker = os.environ["FAULT_STAGE"], Path(os.environ["FAULT_MARKER"])
sys.path.insert(0, os.environ["NCPI_QA_TESTS_ROOT"])  # the child imports tests/fakes.py
from tests.fakes import held_build

held_build(stage, marker, embed_share=0.0)  # embedding: held after its first text

from ncpi_qa.apps.cli import main
sys.exit(main(["index"]))
"""


def _best_doc(settings, question: str) -> tuple[set[str], str]:
    from ncpi_qa.index.backend import open_store
    from ncpi_qa.qa.retrieve import Retriever

    from .fakes import HashingEmbedder

    store = open_store(settings)
    r = Retriever(store, HashingEmbedder())
    return set(store.documents), r.search(question, r.embed_query(question), 1)[0].doc_id


@pytest.mark.parametrize("stage", ["embedding", "written"])
def test_kill_9_mid_build_leaves_the_old_generation_answering(stage, tmp_path, on_milvus):
    from ncpi_qa.index.backend import get_backend
    from ncpi_qa.index.store import build_index

    from .fakes import HashingEmbedder

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "alpha.txt").write_text(
        "Alpha report\n\nThe alpha inspection found 17 custody cells in Northshire.\n"
    )
    ms = on_milvus(corpus, index_lock_timeout=5.0)
    build_index(ms, embedder=HashingEmbedder(), log=quiet)
    live = get_backend(ms).live_generation()
    (corpus / "beta.txt").write_text(
        "Beta report\n\nThe beta review counted 23 referrals from schools in Southdale.\n"
    )
    marker = tmp_path / "at-step"
    env = {**os.environ, **_milvus_env(ms), "PYTHONPATH": str(ROOT / "app"),
           "NCPI_QA_TESTS_ROOT": str(ROOT),
           "FAULT_STAGE": stage, "FAULT_MARKER": str(marker)}  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", KILLED], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None, proc.stdout.read().decode()
        assert time.monotonic() < deadline, f"the build never reached {stage}"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(30) == -signal.SIGKILL
    backend = get_backend(ms)
    if stage == "written":  # the dead build's whole generation is there, not live
        assert len(backend.generations()) == 2
    assert backend.live_generation() == live
    q = "How many custody cells did the alpha inspection find?"
    assert _best_doc(ms, q) == ({"alpha"}, "alpha")
    report = build_index(ms, embedder=HashingEmbedder(), log=quiet)  # the dead lease is freed
    assert report.embedded == ["beta"] and report.reused == ["alpha"]
    q = "How many referrals from schools did the beta review count?"
    assert _best_doc(ms, q) == ({"alpha", "beta"}, "beta")
    gens = backend.generations()
    assert len(gens) == 2 and live in gens  # the orphan dropped, the previous one kept


def _dev_questions() -> list[str]:
    rows = [json.loads(line) for line in (ROOT / "evals" / "dev.jsonl").read_text().splitlines()]
    return [r["question"] for r in rows if r.get("question")]


@pytest.mark.slow
def test_seed_dev_set_retrieves_and_answers_the_same_on_milvus(
    shipped_settings, embedder, on_milvus
):
    """Every question of evals/dev.jsonl retrieves the same rankings in every mode; every third
    one is answered through the whole pipeline with the same answer, abstention and citations
    (all 57 were, once, when this was written: docs/scaling.md; a third keeps CI short)."""
    from ncpi_qa.index.store import build_index
    from ncpi_qa.qa.pipeline import QA

    ms = on_milvus(SHIPPED_CORPUS)
    shutil.copytree(shipped_settings.store_dir / "cache", ms.store_dir / "cache")
    report = build_index(ms, embedder=embedder, log=quiet)
    assert report.texts_embedded == 0  # the per-document cache serves either backend
    files, mil = QA(shipped_settings, embedder=embedder), QA(ms, embedder=embedder)
    questions = _dev_questions()
    assert len(questions) >= 50
    for q in questions:
        v = files.embed(q)
        want = files.retriever.retrieve(q, v, 5)[1]
        assert mil.retriever.retrieve(q, v, 5)[1] == want, q
    answered = 0
    for q in questions[::3]:
        a, b = files.ask(q), mil.ask(q)
        assert (b.text, b.abstained) == (a.text, a.abstained), q
        assert [c.chunk_id for c in b.citations] == [c.chunk_id for c in a.citations], q
        assert [(c.start, c.end) for c in b.citations] == [(c.start, c.end) for c in a.citations]
        assert b.best_score == pytest.approx(a.best_score, abs=1e-4), q
        answered += not a.abstained
    assert answered > 0
    a = mil.ask("When did HMICFRS begin its child protection inspections?")
    assert "2014" in a.text and not a.abstained and a.citations


@pytest.mark.slow
def test_an_upload_through_one_replica_is_answered_by_another(tmp_path, embedder, on_milvus):
    """Two chat holders (as two app processes would be) on one Milvus index, each with its own
    store folder; a document uploaded through A's upload handler is answered by B, which
    notices the new generation on its next question."""
    from ncpi_qa.apps.chat import handlers as ui
    from ncpi_qa.apps.chat.uploads import Holder, add_document
    from ncpi_qa.index.store import build_index
    from ncpi_qa.qa.pipeline import QA

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "alpha.txt").write_text("Alpha review\n\nThe alpha review took 6 weeks in 2018.\n")
    # abstain_threshold 0: both quote their best sentence (what is replicated is the index,
    # not the decision to answer, which the evals measure)
    sa = on_milvus(corpus, name="replica-a", abstain_threshold=0.0)
    build_index(sa, embedder=embedder, log=quiet)
    sb = on_milvus(tmp_path / "corpus-b", name="replica-b", abstain_threshold=0.0)  # no corpus
    a, b = Holder(QA(sa, embedder=embedder)), Holder(QA(sb, embedder=embedder))
    q = "How long did the alpha review take?"
    _, ta = ui.answer_turn(a, q, [])
    _, tb = ui.answer_turn(b, q, [])
    assert "6 weeks" in ta.answer and ta.answer == tb.answer
    upload = tmp_path / "omega.txt"
    upload.write_text("Omega review\n\nThe omega review of custody took 14 weeks.\n")
    message = add_document(a, str(upload), "omega.txt")
    assert "omega" in message.lower()
    old = b.qa
    _, tb = ui.answer_turn(b, "How long did the omega review of custody take?", [])
    assert b.qa is not old and set(b.qa.store.documents) == {"alpha", "omega"}
    assert not tb.abstained and "14 weeks" in tb.answer


def _wait_http(url: str, proc, timeout: float = 240) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, "the app exited"
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            assert time.monotonic() < deadline, f"{url} did not answer"
            time.sleep(0.5)


@pytest.mark.slow
def test_two_app_processes_on_one_server(tmp_path, on_milvus):
    """Two real `ncpi-qa app` processes (ports of their own, 127.0.0.1) on one Milvus index
    answer alike; a document indexed by A's writer is answered by B without a restart."""
    from gradio_client import Client

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "alpha.txt").write_text("Alpha review\n\nThe alpha review took 6 weeks in 2018.\n")
    sa, sb = on_milvus(corpus, name="store-a"), on_milvus(tmp_path / "corpus-b", name="store-b")
    built = run_cli("index", env=_milvus_env(sa), text=True)
    assert built.returncode == 0, built.stderr
    apps = []
    try:
        for s in (sa, sb):
            port = free_port()
            env = {**os.environ, **_milvus_env(s), "PYTHONPATH": str(ROOT / "app")}
            log = open(tmp_path / f"app-{port}.log", "w")  # noqa: SIM115 - closed at exit
            cmd = [sys.executable, "-m", "ncpi_qa.apps.cli", "app", "--host", "127.0.0.1",
                   "--port", str(port)]  # fmt: skip
            apps.append((subprocess.Popen(cmd, env=env, stdout=log, stderr=log), port))
        for proc, port in apps:
            _wait_http(f"http://127.0.0.1:{port}/", proc)
        clients = [Client(f"http://127.0.0.1:{port}/", verbose=False) for _, port in apps]

        def ask(client, q) -> str:
            out = client.predict(q, api_name="/ask")
            return next(x for x in out if isinstance(x, str) and "weeks" in x)

        q = "How long did the alpha review take?"
        answers = [ask(c, q) for c in clients]
        assert "6 weeks" in answers[0] and "6 weeks" in answers[1]
        (corpus / "omega.txt").write_text(
            "Omega review\n\nThe omega review of custody took 14 weeks.\n"
        )
        built = run_cli("index", env=_milvus_env(sa), text=True)
        assert built.returncode == 0 and "Indexed 2 documents" in built.stdout, built.stderr
        assert "14 weeks" in ask(clients[1], "How long did the omega review of custody take?")
        assert "14 weeks" in ask(clients[0], "How long did the omega review of custody take?")
    finally:
        for proc, _ in apps:
            proc.terminate()
        for proc, _ in apps:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
