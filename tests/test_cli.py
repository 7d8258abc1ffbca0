"""The `ncpi-qa` command on bad input: one message and what to do, a non-zero exit,
no traceback, the old index intact; with --json the error is JSON on stdout."""

from __future__ import annotations

import errno
import json

import pytest

from ncpi_qa.apps.cli import main
from ncpi_qa.index.files_store import Store
from ncpi_qa.index.generations import current_generation, store_lock

from .conftest import FIXTURES, run_cli


@pytest.fixture
def fake_model(monkeypatch, fake_embedder):
    """`ncpi-qa index` embeds with the hashing fake instead of loading the real model."""
    monkeypatch.setattr("ncpi_qa.index.embedding.get_embedder", lambda *a, **k: fake_embedder)
    return fake_embedder


@pytest.fixture
def built(fixture_corpus, tmp_path, fake_model, capsys):
    store = tmp_path / "store"
    assert main(["index", "--corpus", str(fixture_corpus), "--store", str(store)]) == 0
    capsys.readouterr()
    return store


def _no_partial_files(store):
    gen = current_generation(store)
    assert gen is not None
    names = [p.name for p in store.iterdir()]
    assert not [n for n in names if n.startswith((".tmp-gen-", ".CURRENT."))]
    assert [n for n in names if n.startswith("gen-")] == [gen.name]
    assert not list((store / "cache").glob("*.tmp.npz"))


@pytest.mark.parametrize("k", ["0", "-1"])
def test_bad_k_is_refused_with_a_message(k, capsys):
    assert main(["ask", "How many inspections?", "--k", k]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: --k must be a whole number of at least 1") and f"got {k}" in err
    assert main(["ask", "How many inspections?", "--k", k, "--json"]) == 2
    out = json.loads(capsys.readouterr().out)
    assert out["error"]["code"] == "bad_argument" and "--k" in out["error"]["message"]


def test_usage_error_with_json_is_json_on_stdout(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["ask", "question", "--k", "five", "--json"])
    assert exit_.value.code == 2
    out = json.loads(capsys.readouterr().out)
    assert out["error"]["code"] == "bad_argument" and "invalid int value" in out["error"]["message"]


def test_errors_with_json_are_json_on_stdout(capsys):
    assert main(["docs", "--json"]) == 1  # no index built in this test's store
    captured = capsys.readouterr()
    err = json.loads(captured.out)["error"]
    assert err["code"] == "no_index" and "ncpi-qa index" in err["advice"]
    assert main(["docs"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("Error: No index found")


def test_invalid_utf8_question_from_argv_is_a_message_not_a_traceback():
    proc = run_cli("ask", b"How many \xff\xfe inspections?")
    err = proc.stderr.decode()
    assert proc.returncode == 1
    assert "not valid text" in err and "UTF-8" in err and "Traceback" not in err
    proc = run_cli("ask", b"How many \xff inspections?", "--json")
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["error"]["code"] == "bad_question_encoding"


def test_unexpected_errors_are_one_message(monkeypatch, capsys):
    def boom(args):
        raise ValueError("something odd")

    monkeypatch.setattr("ncpi_qa.apps.cli.cmd_docs", boom)
    rc = main(["docs", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 1 and out["error"]["code"] == "internal_error"
    assert "ValueError: something odd" in out["error"]["message"]


def test_debug_setting_lets_the_traceback_through(monkeypatch):
    def boom(args):
        raise ValueError("something odd")

    monkeypatch.setattr("ncpi_qa.apps.cli.cmd_docs", boom)
    monkeypatch.setenv("NCPI_QA_DEBUG", "1")
    with pytest.raises(ValueError, match="something odd"):
        main(["docs", "--json"])


@pytest.mark.parametrize("where", ["vectors", "switch"])
def test_disk_full_keeps_the_old_index_and_removes_partial_files(
    built, fixture_corpus, monkeypatch, capsys, where
):
    old = current_generation(built)
    (fixture_corpus / "extra.txt").write_text("Extra\n\nA new note about custody.\n")

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    import os

    import numpy as np

    # Mid-write of the new generation, or once it is complete and renamed (the CURRENT
    # pointer's write fails).
    target, name = (np, "save") if where == "vectors" else (os, "fsync")
    real = getattr(target, name)
    monkeypatch.setattr(target, name, full)
    rc = main(["index", "--corpus", str(fixture_corpus), "--store", str(built)])
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert rc == 1 and lines[-2].startswith("Error: Could not write the index")
    assert "Traceback" not in err and sum(line.startswith("Error") for line in lines) == 1
    assert "No space left on device" in err and "Free some disk space" in err
    assert "previous index" in err and "unchanged" in err
    assert current_generation(built) == old
    assert "extra" not in Store.load(built).documents
    _no_partial_files(built)
    monkeypatch.setattr(target, name, real)  # space again: the next run indexes the change
    assert main(["index", "--corpus", str(fixture_corpus), "--store", str(built)]) == 0
    assert "extra" in Store.load(built).documents


def test_unwritable_store_is_a_message(fixture_corpus, tmp_path, fake_model, capsys):
    store = tmp_path / "not-a-dir"
    store.write_text("a file where the store folder should be")
    rc = main(["index", "--corpus", str(fixture_corpus), "--store", str(store)])
    err = capsys.readouterr().err
    assert rc == 1 and err.startswith(f"Error: Could not write the index in {store}")
    assert "writable" in err and "--store" in err
    assert store.read_text() == "a file where the store folder should be"


def test_second_index_run_waits_then_gives_up_with_a_message(fixture_corpus, tmp_path):
    store = tmp_path / "store"
    with store_lock(store, 1):  # another build holds the store
        proc = run_cli(
            "index",
            "--corpus",
            str(fixture_corpus),
            "--store",
            str(store),
            env={"NCPI_QA_INDEX_LOCK_TIMEOUT": "0.5"},
        )
    err = proc.stderr.decode()
    assert proc.returncode == 1 and "Traceback" not in err
    assert "waiting up to 0s" in err  # it said it was waiting...
    assert "Error: Another build is writing the index" in err  # ...then why it stopped
    assert "NCPI_QA_INDEX_LOCK_TIMEOUT" in err
    assert current_generation(store) is None


@pytest.mark.parametrize("how", ["flag", "env"])
def test_app_refuses_a_non_loopback_host_without_allow_remote(how, monkeypatch, capsys):
    import ncpi_qa.apps.chat.app as ui

    def must_not_launch(*a, **k):
        raise AssertionError("the app must not start")

    monkeypatch.setattr(ui, "launch", must_not_launch)
    if how == "env":
        monkeypatch.setenv("NCPI_QA_HOST", "0.0.0.0")
        argv = ["app"]
    else:
        argv = ["app", "--host", "0.0.0.0"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Refusing to serve on 0.0.0.0" in err and "--allow-remote" in err


def test_app_on_loopback_or_with_allow_remote_goes_ahead(monkeypatch):
    import ncpi_qa.apps.chat.app as ui

    calls = []
    monkeypatch.setattr(ui, "launch", lambda s, host, port: calls.append((host, s)))
    assert main(["app", "--host", "127.0.0.1"]) == 0
    assert main(["app", "--host", "::1"]) == 0
    assert main(["app", "--host", "0.0.0.0", "--allow-remote"]) == 0
    assert [h for h, _ in calls] == ["127.0.0.1", "::1", "0.0.0.0"]


def test_bad_files_and_collisions_through_the_cli(tmp_path, fake_model, capsys):
    import shutil

    corpus = tmp_path / "c"
    shutil.copytree(FIXTURES / "bad", corpus)
    (corpus / "Report.txt").write_text("Report\n\nThe gamma review took 8 weeks.\n")
    (corpus / "report.txt").write_text("Report\n\nThe delta review took 3 weeks.\n")
    store = tmp_path / "s"
    assert main(["index", "--corpus", str(corpus), "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Indexed 2 documents")
    assert main(["docs", "--json", "--store", str(store)]) == 0
    docs = json.loads(capsys.readouterr().out)
    assert len(docs) == 2 and {d["source"] for d in docs} == {"Report.txt", "report.txt"}


COLLISIONS = {
    "ncpi report.md": ("The harbour safety review took 8 weeks.", "harbour safety review"),
    "ncpi_report.md": ("The school transport review took 5 weeks.", "school transport review"),
    "Report.txt": ("The custody suite review took 11 weeks.", "custody suite review"),
    "report.txt": ("The mental health triage review took 2 weeks.", "mental health triage review"),
    "报告.md": ("The missing children review took 6 weeks.", "missing children review"),
    "审查.md": ("The online grooming review took 9 weeks.", "online grooming review"),
}


def test_collision_corpus_every_file_its_own_document_and_answer(
    tmp_path, embedder, monkeypatch, capsys
):
    """Names that slug alike: as many documents as files, and each question is answered
    from its own file (real model: the nearest chunk is that file's)."""
    import numpy as np

    monkeypatch.setattr("ncpi_qa.index.embedding.get_embedder", lambda *a, **k: embedder)
    corpus, store = tmp_path / "c", tmp_path / "s"
    corpus.mkdir()
    for name, (fact, _) in COLLISIONS.items():
        (corpus / name).write_text(f"Review notes\n\n{fact}\n", encoding="utf-8")
    assert main(["index", "--corpus", str(corpus), "--store", str(store)]) == 0
    assert capsys.readouterr().out.startswith(f"Indexed {len(COLLISIONS)} documents")
    assert main(["docs", "--json", "--store", str(store)]) == 0
    docs = json.loads(capsys.readouterr().out)
    assert len(docs) == len(COLLISIONS) == len({d["doc_id"] for d in docs})
    by_source = {d["source"]: d["doc_id"] for d in docs}
    assert set(by_source) == set(COLLISIONS)
    assert by_source["报告.md"] == "报告" and by_source["审查.md"] == "审查"
    loaded = Store.load(store)
    for name, (fact, topic) in COLLISIONS.items():
        assert main(["doc", by_source[name], "--json", "--store", str(store)]) == 0
        assert fact in json.loads(capsys.readouterr().out)["text"]
        q = embedder.encode([f"How long did the {topic} take?"])
        _, hits = loaded.faiss_index.search(np.asarray(q, dtype=np.float32), 1)
        best = loaded.chunks[int(hits[0][0])]
        assert best.doc_id == by_source[name] and fact in best.text


def test_app_port_problems_are_messages(monkeypatch, capsys):
    import ncpi_qa.apps.chat.app as ui

    def taken(*a, **k):
        raise OSError(errno.EADDRINUSE, "Address already in use")

    monkeypatch.setattr(ui, "launch", taken)
    assert main(["app", "--port", "7999"]) == 1
    err = capsys.readouterr().err
    assert "Cannot serve the app on 127.0.0.1:7999 (Address already in use)" in err
    assert "--port N" in err
    assert main(["app", "--port", "70000"]) == 2
    assert "--port must be between 1 and 65535 (got 70000)" in capsys.readouterr().err
