"""The chat starts while its models load (apps/chat/loading.py): the page is built from the
index alone, a question asked early waits for the QA, and a failed load says why."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

from ncpi_qa.apps.chat.loading import LoadingQA
from ncpi_qa.apps.chat.uploads import Holder
from ncpi_qa.index.backend import open_store


class SlowQA:
    """Stands in for ncpi_qa.qa.pipeline.QA: blocks until ``release`` is set."""

    release = threading.Event()
    made: list = []

    def __init__(self, settings, store=None):
        assert SlowQA.release.wait(600)
        self.settings, self.store, self.reads = settings, store, []
        self.answerer = SimpleNamespace(reader=SimpleNamespace(read=lambda q, items: []))
        SlowQA.made.append(self)

    def embed(self, question):
        return None

    def ask(self, question):
        return f"answer to {question}"


@pytest.fixture
def slow_qa(monkeypatch):
    SlowQA.release = threading.Event()
    SlowQA.made = []
    monkeypatch.setattr("ncpi_qa.qa.pipeline.QA", SlowQA)
    return SlowQA


def test_page_needs_only_the_index_and_questions_wait(fake_index, slow_qa):
    store = open_store(fake_index)
    holder = Holder(None)
    holder.qa = loading = LoadingQA(fake_index, store, holder).start()
    assert holder.qa.settings is fake_index and holder.qa.store is store  # at once
    with pytest.raises(TimeoutError):
        loading.wait(timeout=0.05)
    got = []
    asker = threading.Thread(target=lambda: got.append(holder.qa.ask("early?")))
    asker.start()
    time.sleep(0.2)
    assert got == []  # waiting for the models, not failing
    slow_qa.release.set()
    asker.join(10)
    assert got == ["answer to early?"]
    assert holder.qa is slow_qa.made[0] and holder.qa.store is store  # the QA itself now


def test_a_failed_load_says_why(fake_index, monkeypatch):
    def broken(settings, store=None):
        raise FileNotFoundError("reader.safetensors is missing")

    monkeypatch.setattr("ncpi_qa.qa.pipeline.QA", broken)
    loading = LoadingQA(fake_index, open_store(fake_index)).start()
    with pytest.raises(RuntimeError, match="could not be loaded: reader.safetensors is missing"):
        loading.ask("anything")


@pytest.mark.slow
def test_create_app_does_not_wait_for_the_models(fake_index, slow_qa):
    from ncpi_qa.apps.chat.app import create_app

    holder = Holder(None)
    holder.qa = LoadingQA(fake_index, open_store(fake_index), holder).start()
    demo = create_app(holder)  # would hang here if the layout needed the models
    assert demo.holder is holder and isinstance(holder.qa, LoadingQA)
    slow_qa.release.set()
    holder.qa.wait(60)
    assert holder.qa is slow_qa.made[0]
