"""Errors fit where they are read (issue 28 item 5): an error raised in the index says what
went wrong and nothing a terminal user alone could do; the command line adds its advice (flags,
commands, NCPI_QA_* settings) and the chat its own (never a command)."""

from __future__ import annotations

import errno
import inspect
import json
import re
import shutil

import pytest

from ncpi_qa import errors
from ncpi_qa.apps.advice import CHAT, CLI, advice, explain
from ncpi_qa.apps.cli import main
from ncpi_qa.index.files_store import Store
from ncpi_qa.index.generations import store_lock
from ncpi_qa.index.store import build_index
from ncpi_qa.settings import Settings

from .conftest import FIXTURES

# What only a terminal user can act on: a command, a flag, a setting, an install.
CLI_WORDS = re.compile(r"ncpi-qa |--[a-z]|NCPI_QA_|pip install|make (install|train|bench)")

SAMPLES = {
    errors.NoIndexError: ("/tmp/s",),
    errors.IndexIncompatibleError: ("/tmp/s", "it was built by another version"),
    errors.EmptyCorpusError: ("/tmp/c", [("a.pdf", "not a PDF")]),
    errors.CorpusNotFoundError: ("/tmp/c",),
    errors.UnknownDocumentError: ("x", ["a", "b"]),
    errors.EmptyQuestionError: (),
    errors.QuestionTooLongError: (3000, 2000),
    errors.ModelNotAvailableError: ("m", "package not installed"),
    errors.IndexBusyError: ("/tmp/s", 3.0, "pid 1 on h"),
    errors.StoreWriteError: ("/tmp/s", OSError(errno.ENOSPC, "No space left on device")),
    errors.QuestionEncodingError: (),
    errors.RemoteBindRefusedError: ("0.0.0.0",),
    errors.UnexpectedError: (ValueError("odd"),),
    errors.PortUnavailableError: ("127.0.0.1", 7860, OSError(errno.EADDRINUSE, "in use")),
    errors.IndexWriterBusyError: ("'x' on Milvus", 3.0, "pid 1 on h"),
    errors.VectorStoreUnavailableError: ("http://m:19530", "refused"),
}


def _made(cls):
    return cls(*SAMPLES[cls])


def test_every_error_class_is_sampled():
    classes = {
        c
        for _, c in inspect.getmembers(errors, inspect.isclass)
        if issubclass(c, errors.NcpiError) and c.__init__ is not errors.NcpiError.__init__
    }
    # These take their whole message from the raiser (a reason, an argument's complaint).
    free = {errors.DatasetError, errors.AnswererWeightsError, errors.BadArgumentError}
    assert classes - free - {errors.AuthFileError} == set(SAMPLES)


@pytest.mark.parametrize("cls", list(SAMPLES), ids=lambda c: c.__name__)
def test_messages_carry_no_command_line_advice(cls):
    message = str(_made(cls))
    assert message and not CLI_WORDS.search(message), message


@pytest.mark.parametrize("cls", list(CHAT), ids=lambda c: c.__name__)
def test_the_chats_advice_names_no_command(cls):
    said = explain(_made(cls), "chat")
    assert said.startswith(str(_made(cls))) and not CLI_WORDS.search(said), said


def test_advice_follows_the_class_and_what_the_error_knows():
    full = errors.StoreWriteError("/s", OSError(errno.ENOSPC, "No space left on device"))
    denied = errors.StoreWriteError("/s", OSError(errno.EACCES, "Permission denied"))
    assert "Free some disk space" in advice(full, "cli")
    assert "writable" in advice(denied, "cli") and "--store" in advice(denied, "cli")
    assert "disk space" in advice(full, "chat") and "disk" not in advice(denied, "chat")
    # a subclass without its own chat entry takes its base class's
    busy = _made(errors.IndexWriterBusyError)
    assert advice(busy, "chat") == CHAT[errors.IndexBusyError]
    assert "NCPI_QA_MILVUS_LEASE_SECONDS" in advice(busy, "cli")
    assert advice(errors.DatasetError("x.jsonl", "file not found"), "cli") == ""
    assert explain(errors.DatasetError("x.jsonl", "gone"), "cli") == str(
        errors.DatasetError("x.jsonl", "gone")
    )


def test_errors_raised_in_the_index_say_no_command(tmp_path, fake_embedder, fixture_corpus):
    raised = []
    with pytest.raises(errors.NoIndexError) as e:
        Store.load(tmp_path / "empty")
    raised.append(e.value)
    with pytest.raises(errors.CorpusNotFoundError) as e:
        build_index(Settings(corpus_dir=tmp_path / "nope", store_dir=tmp_path / "s"))
    raised.append(e.value)
    bad = tmp_path / "bad"
    shutil.copytree(FIXTURES / "bad", bad)
    with pytest.raises(errors.EmptyCorpusError) as e:
        s = Settings(corpus_dir=bad, store_dir=tmp_path / "s")
        build_index(s, embedder=fake_embedder, log=lambda m: None)
    raised.append(e.value)
    store = tmp_path / "store"
    settings = Settings(corpus_dir=fixture_corpus, store_dir=store, index_lock_timeout=0.2)
    with store_lock(store, 1), pytest.raises(errors.IndexBusyError) as e:
        build_index(settings, embedder=fake_embedder, log=lambda m: None)
    raised.append(e.value)
    build_index(settings, embedder=fake_embedder, log=lambda m: None)
    gen = store / (store / "CURRENT").read_text().strip()
    (gen / "faiss.index").write_bytes(b"garbage")
    with pytest.raises(errors.IndexIncompatibleError) as e:
        Store.load(store)
    raised.append(e.value)
    for err in raised:
        assert not CLI_WORDS.search(str(err)), str(err)
        assert CLI_WORDS.search(advice(err, "cli")), type(err).__name__
        assert CLI.get(type(err)) and CHAT.get(type(err))


def test_the_command_line_prints_message_then_advice(tmp_path, capsys):
    assert main(["docs", "--store", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"Error: No index found in {tmp_path / 'none'}.",
        advice(errors.NoIndexError("x"), "cli"),
    ]
    assert "ncpi-qa index" in err[1]
    assert main(["docs", "--json", "--store", str(tmp_path / "none")]) == 1
    out = json.loads(capsys.readouterr().out)["error"]
    assert out["code"] == "no_index" and "ncpi-qa index" not in out["message"]
    assert out["advice"] == err[1]


def test_the_chat_shows_its_own_advice(fake_index, fake_embedder):
    """An error in the chat reads as the message and the chat's advice, never a command."""
    from ncpi_qa.apps.chat.handlers import answer_turn
    from ncpi_qa.apps.chat.uploads import Holder
    from ncpi_qa.qa.pipeline import QA

    holder = Holder(QA(fake_index, embedder=fake_embedder))
    _, turn = answer_turn(holder, "   ", [])
    assert turn.error and turn.answer.startswith("Sorry: ")
    assert CHAT[errors.EmptyQuestionError] in turn.answer
    assert "ncpi-qa" not in turn.answer and "NCPI_QA_" not in turn.answer
