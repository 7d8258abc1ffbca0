"""The store under concurrent builds, crashes, kills and stale readers: one writer at a time,
and the index ends consistent and answering whatever the interleaving."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from ncpi_qa.index.files_store import Store
from ncpi_qa.index.generations import current_generation
from ncpi_qa.index.store import build_index
from ncpi_qa.settings import Settings


@pytest.fixture
def settings(fixture_corpus, tmp_path):
    return Settings(corpus_dir=fixture_corpus, store_dir=tmp_path / "store")


def quiet(msg):
    pass


def _gens(store_dir):
    return sorted(p.name for p in store_dir.iterdir() if p.name.startswith("gen-"))


def _assert_consistent_and_answering(settings, fake_embedder, expect_docs):
    gen = current_generation(settings.store_dir)
    assert gen is not None and (gen / "faiss.index").exists()
    store = Store.load(settings.store_dir)
    assert set(store.documents) == expect_docs
    assert store.faiss_index.ntotal == len(store.chunks) == store.manifest.n_chunks
    leftovers = [p.name for p in settings.store_dir.iterdir() if p.name.startswith(".tmp")]
    assert leftovers == [] and not list(settings.store_dir.glob(".CURRENT.*"))
    # It answers a search: the nearest chunk to a sentence's own vector is that sentence's.
    c = store.chunks[-1]
    q = np.asarray(fake_embedder.encode([c.embed_text()]), dtype=np.float32)
    _, hits = store.faiss_index.search(q, 3)
    assert store.chunks[int(hits[0][0])].chunk_id == c.chunk_id


@pytest.mark.parametrize("pause_at", ["locked", "written", "switched"])
def test_concurrent_builds_end_consistent_in_every_interleaving(
    settings, fake_embedder, monkeypatch, pause_at
):
    """Build A pauses at a fixed point (after taking the lock, just before the CURRENT
    switch, just after it); build B starts then, with a changed corpus. B must wait for A,
    then index the change; the store ends consistent and answering."""
    import threading

    build_index(settings, embedder=fake_embedder, log=quiet)
    first = set(Store.load(settings.store_dir).documents)
    paused, resume = threading.Event(), threading.Event()
    order: list[str] = []

    def checkpoint(stage):
        name = threading.current_thread().name
        order.append(f"{name}:{stage}")
        if name == "A" and stage == pause_at:
            paused.set()
            assert resume.wait(20)

    logs_b: list[str] = []
    errors: list[BaseException] = []

    def run(rebuild, log):
        try:
            build_index(
                settings, embedder=fake_embedder, rebuild=rebuild, log=log, checkpoint=checkpoint
            )
        except BaseException as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)

    a = threading.Thread(target=run, args=(True, quiet), name="A")
    a.start()
    assert paused.wait(20)
    (settings.corpus_dir / "late.txt").write_text("Late\n\nA late note: 9 children were seen.\n")
    b = threading.Thread(target=run, args=(False, logs_b.append), name="B")
    b.start()
    for _ in range(200):  # B is blocked on the lock and says so
        if any("waiting" in m for m in logs_b):
            break
        b.join(0.05)
    assert any("Another build is writing" in m and "waiting" in m for m in logs_b)
    assert not any(o.startswith("B:") for o in order)  # B got nowhere while A held the lock
    resume.set()
    a.join(30)
    b.join(30)
    assert not a.is_alive() and not b.is_alive() and errors == []
    b_steps = [o for o in order if o.startswith("B:")]
    assert order.index(b_steps[0]) > order.index(f"A:{pause_at}")
    assert b_steps == ["B:locked", "B:written", "B:switched"]  # B saw the change and built
    _assert_consistent_and_answering(settings, fake_embedder, first | {"late"})
    assert len(_gens(settings.store_dir)) == 2  # B's, and A's kept one build longer


def test_second_build_gives_up_with_a_clear_message(settings, fake_embedder):
    from ncpi_qa.errors import IndexBusyError
    from ncpi_qa.index.generations import store_lock

    build_index(settings, embedder=fake_embedder, log=quiet)
    gen = current_generation(settings.store_dir)
    settings.index_lock_timeout = 0.3
    logged = []
    with store_lock(settings.store_dir, 1, quiet):
        with pytest.raises(IndexBusyError, match="Another build is writing.*gave up after"):
            build_index(settings, embedder=fake_embedder, rebuild=True, log=logged.append)
    assert any("waiting up to 0s" in m for m in logged)
    assert current_generation(settings.store_dir) == gen
    # Released: the next build goes ahead.
    assert not build_index(settings, embedder=fake_embedder, rebuild=True, log=quiet).up_to_date


def test_lock_is_released_when_the_holder_dies(settings, fake_embedder):
    import subprocess
    import sys

    from ncpi_qa.index.generations import store_lock

    code = (
        "import os, sys\nfrom pathlib import Path\n"
        "from ncpi_qa.index.generations import store_lock\n"
        "with store_lock(Path(sys.argv[1]), 5):\n    print('held', flush=True)\n"
        "    os.kill(os.getpid(), 9)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(settings.store_dir)], capture_output=True, text=True
    )
    assert proc.returncode == -9 and "held" in proc.stdout
    with store_lock(settings.store_dir, 0.5, quiet):  # would raise IndexBusyError if still held
        pass


def test_leftovers_of_crashed_builds_are_cleared_and_live_generation_kept(settings, fake_embedder):
    build_index(settings, embedder=fake_embedder, log=quiet)
    store_dir = settings.store_dir
    gen = current_generation(store_dir)
    (store_dir / ".tmp-gen-20260101T000000-1-1").mkdir()
    (store_dir / ".tmp-gen-20260101T000000-1-1" / "chunks.jsonl").write_text("{}")
    (store_dir / ".CURRENT.20260101T000000-1-1").write_text("gen-nonexistent\n")
    (store_dir / "cache" / "abc-def.tmp.npz").write_bytes(b"partial")
    (settings.corpus_dir / "extra.txt").write_text("Extra\n\nA new note about custody.\n")
    build_index(settings, embedder=fake_embedder, log=quiet)
    assert not list(store_dir.glob(".tmp-gen-*")) and not list(store_dir.glob(".CURRENT.*"))
    assert not list((store_dir / "cache").glob("*.tmp.npz"))
    assert gen.exists()  # the previous live generation is kept one build longer
    assert "extra" in Store.load(store_dir).documents


def test_up_to_date_run_also_clears_leftovers_unless_a_build_holds_the_lock(
    settings, fake_embedder
):
    from ncpi_qa.index.generations import store_lock

    build_index(settings, embedder=fake_embedder, log=quiet)
    gen = current_generation(settings.store_dir)
    leftover = settings.store_dir / ".tmp-gen-20260101T000000-1-1"
    leftover.mkdir()
    with store_lock(settings.store_dir, 1):  # a build is running: its temp folder stays
        assert build_index(settings, embedder=fake_embedder, log=quiet).up_to_date
        assert leftover.exists()
    assert build_index(settings, embedder=fake_embedder, log=quiet).up_to_date
    assert not leftover.exists() and current_generation(settings.store_dir) == gen


def test_loaded_store_notices_new_generation_and_keeps_answering(settings, fake_embedder):
    build_index(settings, embedder=fake_embedder, log=quiet)
    old = Store.load(settings.store_dir)
    assert not old.is_stale() and old.reloaded() is old
    before = np.array(old.sentence_vectors[:3])
    for n in range(2):  # two more builds: old's generation is removed after the second
        (settings.corpus_dir / f"extra{n}.txt").write_text(f"Extra {n}\n\nNote {n} on custody.\n")
        build_index(settings, embedder=fake_embedder, log=quiet)
        assert old.is_stale()
    assert not old.path.exists()
    # Answers in flight on the old store still read its (memory-mapped) vectors.
    assert np.array_equal(np.array(old.sentence_vectors[:3]), before)
    new = old.reloaded()
    assert new is not old and {"extra0", "extra1"} <= set(new.documents)
    assert not new.is_stale()


def test_file_over_the_size_limit_is_skipped_with_the_reason(settings, fake_embedder):
    settings.max_file_mb = 0.002  # ~2 KB: the PDF and DOCX fixtures are larger
    sizes = {p.name: p.stat().st_size for p in settings.corpus_dir.iterdir()}
    big = {n for n, size in sizes.items() if size > 0.002 * 1024 * 1024}
    assert big and big != set(sizes)
    report = build_index(settings, embedder=fake_embedder, log=quiet)
    skipped = dict(report.skipped)
    assert set(skipped) == big
    assert all(
        "over the 0.002 MB limit" in why and "NCPI_QA_MAX_FILE_MB" in why
        for why in skipped.values()
    )
    assert len(report.indexed) == len(sizes) - len(big)


def test_large_embedding_work_logs_time_left(fake_embedder):
    from ncpi_qa.index.generations import encode_with_eta

    texts = [f"sentence {i} about custody" for i in range(5000)]
    logged = []
    vecs = encode_with_eta(fake_embedder, texts, False, logged.append)
    assert vecs.shape == (5000, fake_embedder.dim)
    assert np.allclose(vecs[4321], fake_embedder.encode([texts[4321]])[0])
    assert logged and logged[0].startswith("  embedded 2048/5000 texts, about ")
    assert logged[0].endswith(" left")


RACER = """
import sys, time
from pathlib import Path
import ncpi_qa.index.embedding as embedding
import ncpi_qa.index.store as store
from ncpi_qa.apps.cli import main

import os
sys.path.insert(0, os.environ["NCPI_QA_TESTS_ROOT"])  # the child imports tests/fakes.py
from tests.fakes import HashingEmbedder
embedding.get_embedder = lambda *a, **k: HashingEmbedder()
# argv: the folder to signal in ("-": never pause), the build step to pause at, the command
pause = Path(sys.argv[1]) if sys.argv[1] != "-" else None
pause_at = sys.argv[2]

def checkpoint(stage):
    if pause is not None and stage == pause_at:  # e.g. "written": just before the switch
        (pause / "paused").touch()
        while not (pause / "go").exists():
            time.sleep(0.02)

real_build = store.build_index
store.build_index = lambda *a, **k: real_build(*a, checkpoint=checkpoint, **k)
sys.exit(main(sys.argv[3:]))
"""


def test_two_index_processes_race_and_the_index_ends_consistent(settings, fake_embedder, tmp_path):
    """Two real `ncpi-qa index` processes: A pauses just before its CURRENT switch (until told
    to go), B starts meanwhile on a changed corpus. B waits for A's lock, then indexes."""
    import subprocess
    import sys
    import time

    from .conftest import ROOT

    build_index(settings, embedder=fake_embedder, log=quiet)
    first = set(Store.load(settings.store_dir).documents)
    sync = tmp_path / "sync"
    sync.mkdir()
    argv = ["index", "--corpus", str(settings.corpus_dir), "--store", str(settings.store_dir)]
    env = {"PYTHONPATH": str(ROOT / "app"), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1",
           "NCPI_QA_TESTS_ROOT": str(ROOT)}  # fmt: skip

    def start(pause, name, *extra):
        err = open(tmp_path / f"{name}.err", "w")  # noqa: SIM115 - closed by the process end
        cmd = [sys.executable, "-c", RACER, pause, "written", *argv, *extra]
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env, text=True)

    a = start(str(sync), "a", "--rebuild")
    for _ in range(1200):
        if (sync / "paused").exists() or a.poll() is not None:
            break
        time.sleep(0.05)
    assert (sync / "paused").exists(), (tmp_path / "a.err").read_text()
    (settings.corpus_dir / "late.txt").write_text("Late\n\nA late note: 9 children were seen.\n")
    b = start("-", "b")
    for _ in range(1200):
        if "waiting" in (tmp_path / "b.err").read_text() or b.poll() is not None:
            break
        time.sleep(0.05)
    assert "Another build is writing" in (tmp_path / "b.err").read_text()
    assert b.poll() is None  # still waiting for A
    (sync / "go").touch()
    out_a, _ = a.communicate(timeout=120)
    out_b, _ = b.communicate(timeout=120)
    assert a.returncode == 0 and b.returncode == 0, (tmp_path / "b.err").read_text()
    assert out_a.startswith("Indexed 4 documents") and out_b.startswith("Indexed 5 documents")
    _assert_consistent_and_answering(settings, fake_embedder, first | {"late"})


@pytest.mark.parametrize("stage", ["locked", "written"])
def test_build_killed_mid_way_leaves_old_index_and_no_lock(
    settings, fake_embedder, tmp_path, stage
):
    """kill -9 while holding the lock (just after taking it, or with the new generation
    complete but CURRENT not switched): the old index still loads, the lock is free, and the
    next build clears what the dead one left."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from .conftest import ROOT

    build_index(settings, embedder=fake_embedder, log=quiet)
    old = current_generation(settings.store_dir)
    (settings.corpus_dir / "extra.txt").write_text("Extra\n\nA new note about custody.\n")
    sync = tmp_path / "sync"
    sync.mkdir()
    argv = ["index", "--corpus", str(settings.corpus_dir), "--store", str(settings.store_dir)]
    env = {"PYTHONPATH": str(ROOT / "app"), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1",
           "NCPI_QA_TESTS_ROOT": str(ROOT)}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-c", RACER, str(sync), stage, *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(1200):
        if (sync / "paused").exists() or proc.poll() is not None:
            break
        time.sleep(0.05)
    assert (sync / "paused").exists()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    left = {p.name.split("-")[0] for p in settings.store_dir.iterdir()}
    if stage == "written":  # the dead build's complete generation and pointer are there
        assert len(_gens(settings.store_dir)) == 2 and list(settings.store_dir.glob(".CURRENT.*"))
    assert "gen" in left and current_generation(settings.store_dir) == old
    assert "extra" not in Store.load(settings.store_dir).documents
    settings.index_lock_timeout = 2  # the dead build's lock is gone: no IndexBusyError
    report = build_index(settings, embedder=fake_embedder, log=quiet)
    assert "extra" in report.indexed
    new = current_generation(settings.store_dir)
    assert _gens(settings.store_dir) == sorted([old.name, new.name])  # the orphan is gone
    assert not list(settings.store_dir.glob(".CURRENT.*"))
    assert not list(settings.store_dir.glob(".tmp-gen-*"))


def test_load_rereads_current_when_its_generation_vanishes(settings, fake_embedder, monkeypatch):
    import ncpi_qa.index.files_store as store_mod

    build_index(settings, embedder=fake_embedder, log=quiet)
    gone = current_generation(settings.store_dir)
    (settings.corpus_dir / "extra.txt").write_text("Extra\n\nA new note about custody.\n")
    build_index(settings, embedder=fake_embedder, log=quiet)
    shutil.rmtree(gone)  # as two more builds would have done while we were reading
    real, calls = store_mod.current_generation, []

    def stale_first(store_dir):
        calls.append(1)
        return gone if len(calls) == 1 else real(store_dir)

    monkeypatch.setattr(store_mod, "current_generation", stale_first)
    store = Store.load(settings.store_dir)
    assert store.path == real(settings.store_dir) and "extra" in store.documents
    assert len(calls) >= 3


def test_damaged_index_says_rebuild(settings, fake_embedder):
    from ncpi_qa.apps.advice import advice
    from ncpi_qa.errors import IndexIncompatibleError

    build_index(settings, embedder=fake_embedder, log=quiet)
    (current_generation(settings.store_dir) / "faiss.index").write_bytes(b"garbage")
    with pytest.raises(IndexIncompatibleError, match="missing or damaged") as e:
        Store.load(settings.store_dir)
    assert "ncpi-qa index --rebuild" in advice(e.value, "cli")
