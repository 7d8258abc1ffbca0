"""Fault injection (issue 17): a real ``ncpi-qa index`` process is SIGKILLed at each step of
writing a generation; the previous generation must still answer and the next build succeed.

The build runs in a subprocess through the CLI's ``main``; the hooks that hold it at a step
live here, in the wrapper below (nothing in the runtime package): it swaps the embedder for
the hashing one (speed) and makes the process report the step, then wait to be killed.
Steps: during embedding; after writing the generation's files (before the temp folder is
renamed into place); between writing and switching (the ``written`` checkpoint: folder in
place, new pointer on disk); during the switch (inside the ``os.replace`` onto ``CURRENT``);
and just after it (``switched``, before old generations are pruned).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import ROOT

WRAPPER = r"""
import os, sys, time
from pathlib import Path

stage, marker = os.environ["FAULT_STAGE"], Path(os.environ["FAULT_MARKER"])
import ncpi_qa.index.files_store as files_store

sys.path.insert(0, os.environ["NCPI_QA_TESTS_ROOT"])  # the child imports tests/fakes.py
from tests.fakes import held_build

hang = held_build(stage, marker, embed_share=0.5)
if stage in ("files", "switch"):
    real_replace = os.replace

    class Os:
        def __getattr__(self, name):
            return getattr(os, name)

        @staticmethod
        def replace(src, dst):
            if stage == "files" and Path(src).name.startswith(".tmp-gen-"):
                hang()
            if stage == "switch" and Path(dst).name == "CURRENT":
                hang()
            return real_replace(src, dst)

    files_store.os = Os()

from ncpi_qa.apps.cli import main

sys.exit(main(["index", "--corpus", sys.argv[1], "--store", sys.argv[2]]))
"""

STAGES = ["embedding", "files", "written", "switch", "switched"]


def _run(stage: str, corpus: Path, store: Path, tmp_path: Path) -> subprocess.Popen:
    env = {**os.environ, "FAULT_STAGE": stage, "FAULT_MARKER": str(tmp_path / "at-step"),
           "NCPI_QA_TESTS_ROOT": str(ROOT)}  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-c", WRAPPER, str(corpus), str(store)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _build(corpus: Path, store: Path, tmp_path: Path) -> str:
    proc = _run("none", corpus, store, tmp_path)
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode == 0, out.decode()
    return out.decode()


def _answers(store_dir: Path, question: str) -> tuple[set[str], str]:
    """The live generation's documents and the document of its best passage for ``question``."""
    from ncpi_qa.index.files_store import Store
    from ncpi_qa.qa.retrieve import Retriever

    from .fakes import HashingEmbedder

    store = Store.load(store_dir)
    embedder = HashingEmbedder()
    retriever = Retriever(store, embedder)
    passages = retriever.search(question, retriever.embed_query(question), k=1)
    return set(store.documents), passages[0].doc_id


@pytest.mark.parametrize("stage", STAGES)
def test_sigkill_at_each_step_leaves_an_index_that_answers(stage, tmp_path):
    corpus, store = tmp_path / "corpus", tmp_path / "store"
    corpus.mkdir()
    (corpus / "alpha.txt").write_text(
        "Alpha report\n\nThe alpha inspection found 17 custody cells in Northshire.\n"
    )
    _build(corpus, store, tmp_path)
    assert _answers(store, "How many custody cells did the alpha inspection find?") == (
        {"alpha"},
        "alpha",
    )
    (corpus / "beta.txt").write_text(
        "Beta report\n\nThe beta review counted 23 referrals from schools in Southdale.\n"
    )
    proc = _run(stage, corpus, store, tmp_path)
    marker = tmp_path / "at-step"
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None, proc.stdout.read().decode()
        assert time.monotonic() < deadline, f"the build never reached {stage}"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL

    docs, best = _answers(store, "How many custody cells did the alpha inspection find?")
    if stage == "switched":  # killed after the switch: the new generation is live and whole
        assert docs == {"alpha", "beta"}
    else:  # killed before it: the previous generation is live, untouched
        assert docs == {"alpha"}
    assert best == "alpha"

    out = _build(corpus, store, tmp_path)  # the next build succeeds and tidies up
    assert "Indexed 2 documents" in out or "up to date" in out, out
    docs, best = _answers(store, "How many referrals from schools did the beta review count?")
    assert docs == {"alpha", "beta"} and best == "beta"
    left = [p.name for p in store.iterdir() if p.name.startswith((".tmp-gen-", ".CURRENT."))]
    assert left == []
    assert len([p for p in store.iterdir() if p.name.startswith("gen-")]) <= 2
