"""The `ncpi-qa` command. Heavy libraries are imported only by the subcommands that need them."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ncpi_qa.apps.advice import advice
from ncpi_qa.apps.cli_parser import build_parser, print_json_error
from ncpi_qa.errors import (
    BadArgumentError,
    NcpiError,
    PortUnavailableError,
    QuestionEncodingError,
    RemoteBindRefusedError,
    UnexpectedError,
    UnknownDocumentError,
)

if TYPE_CHECKING:  # the answer path's types load with the subcommands that answer
    from ncpi_qa.schema import Answer, Turn

log = logging.getLogger(__name__)


def _settings(args, **extra):
    from ncpi_qa.settings import get_settings

    k = getattr(args, "k", None)
    if k is not None and k < 1:
        raise BadArgumentError(
            f"--k must be a whole number of at least 1 (got {k}): it is how many passages "
            "to retrieve, e.g. --k 5."
        )
    return get_settings(
        corpus_dir=getattr(args, "corpus", None),
        store_dir=getattr(args, "store", None),
        top_k=k,
        **extra,
    )


def _check_text(value: str) -> str:
    """Text from argv that held bytes invalid in UTF-8 comes as lone surrogates: refuse it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise QuestionEncodingError() from None
    return value


def cmd_index(args) -> int:
    from ncpi_qa.index.store import build_index

    s = _settings(args)
    report = build_index(s, rebuild=args.rebuild, progress=sys.stderr.isatty() or args.progress)
    print(report.summary())
    return 0


def _session_turns(path: Path) -> list[Turn]:
    """The earlier turns in a ``--session`` file: a JSON list (or ``{"turns": [...]}``) of
    ``ask --json`` answers or chat turns (each read as a ``Turn``), ``{"question": ...}``
    objects or question strings (a ``Turn`` with no answer yet)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise BadArgumentError(
            f"--session {path}: not a readable JSON file ({type(e).__name__}: {e})"
        ) from None
    turns = data.get("turns") if isinstance(data, dict) else data
    if not isinstance(turns, list) or not all(isinstance(t, str | dict) for t in turns):
        raise BadArgumentError(
            f"--session {path}: expected a JSON list of earlier turns (`ask --json` answers, "
            'or {"question": "..."}, or question strings)'
        )
    from ncpi_qa.schema import read_turns

    items = [{"question": t} if isinstance(t, str) else t for t in turns]
    return read_turns(items, len(items))


def _history(qa, args) -> list[Turn | Answer]:
    """The turns this question is asked after: the session file's (a question without an
    answer is asked), then each ``--after`` question asked in order (so that each can lean
    on the ones before it)."""
    history: list[Turn | Answer] = []
    for t in _session_turns(args.session) if args.session else []:
        if t.answer or t.citations or t.error or not t.question.strip():
            history.append(t)
        else:
            history.append(qa.ask(_check_text(t.question), k=args.k, history=history))
    for q in args.after or []:
        history.append(qa.ask(_check_text(q), k=args.k, history=history))
    return history


def cmd_ask(args) -> int:
    from ncpi_qa.qa.pipeline import QA, validate_question

    s = _settings(args)
    _check_text(args.question)
    validate_question(args.question, s)  # fail fast, before loading the model
    for q in args.after or []:
        validate_question(_check_text(q), s)
    if args.session:
        _session_turns(args.session)
    qa = QA(s)
    answer = qa.ask(args.question, k=args.k, history=_history(qa, args))
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return 0
    if answer.context:
        print(answer.context.note)
    print(answer.text)
    if answer.citations:
        print()
        for c in answer.citations:
            print(f"[{c.n}] {c.label} ({c.doc_id} [{c.start}:{c.end}])")
    else:
        print("\nClosest passages:")
        for p in answer.passages[:3]:
            print(f"- {p.label} ({p.chunk_id}): {p.text[:160]}...")
    return 0


def cmd_docs(args) -> int:
    from ncpi_qa.index.backend import open_store

    store = open_store(_settings(args))
    counts: dict[str, int] = {}
    for c in store.chunks:
        counts[c.doc_id] = counts.get(c.doc_id, 0) + 1
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "doc_id": d.doc_id,
                        "title": d.title,
                        "source": d.source,
                        "kind": d.kind,
                        "chunks": counts.get(d.doc_id, 0),
                        "chars": len(d.text),
                    }
                    for d in store.documents.values()
                ],
                indent=2,
            )
        )
        return 0
    for d in store.documents.values():
        print(f"{d.doc_id}\t{counts.get(d.doc_id, 0)} chunks\t{d.kind}\t{d.title}")
    for name, why in store.manifest.skipped:
        print(f"(skipped {name}: {why})")
    return 0


def cmd_doc(args) -> int:
    from ncpi_qa.index.backend import open_store

    store = open_store(_settings(args))
    doc = store.documents.get(args.doc_id)
    if doc is None:
        raise UnknownDocumentError(args.doc_id, list(store.documents))
    if args.json:
        print(
            json.dumps(
                {
                    "doc_id": doc.doc_id,
                    "title": doc.title,
                    "text": doc.text,
                    "source": doc.source,
                    "pages": doc.pages,
                },
                ensure_ascii=False,
            )
        )
    else:
        sys.stdout.write(doc.text + "\n")
    return 0


def cmd_app(args) -> int:
    s = _settings(
        args,
        allow_remote=True if args.allow_remote else None,
        auth_file=args.auth_file,
    )
    from ncpi_qa.apps.chat.server import is_loopback

    host = args.host or s.host
    # Refuse a non-loopback address (--host or NCPI_QA_HOST) before loading Gradio; the app
    # itself (launch) checks again and prints a warning when remote access is allowed.
    if not is_loopback(host) and not (args.allow_remote or getattr(s, "allow_remote", False)):
        raise RemoteBindRefusedError(host)
    port = args.port or s.port
    if not 1 <= port <= 65535:
        raise BadArgumentError(f"--port must be between 1 and 65535 (got {port}), e.g. 7860.")
    from ncpi_qa.apps.chat.app import launch

    try:
        launch(s, host=args.host, port=args.port)
    except OSError as e:  # the port is taken, the address is not this machine's, ...
        raise PortUnavailableError(host, port, e) from e
    return 0


def cmd_eval(args) -> int:
    from ncpi_qa.evals.run import EvalOptions
    from ncpi_qa.evals.run import main as eval_main

    options = EvalOptions(
        dataset=args.dataset,
        json=args.json,
        report=args.report,
        k=args.k,
        gate=args.gate,
        followups=args.followups,
        squad=args.squad,
        no_oos=args.no_oos,
        part=args.part,
        titles=tuple(args.titles) if args.titles else None,
        articles=args.articles,
        limit=args.limit,
        seed=args.seed,
        work=args.work,
        domain=args.domain,
    )
    return eval_main(options, _settings(args))


def cmd_bench(args) -> int:
    """The benchmark is its own distribution (tools/bench, installed by `make bench`), found
    through its "ncpi_qa.tools" entry point; the runtime package holds none of it."""
    from importlib.metadata import entry_points

    found = entry_points(group="ncpi_qa.tools", name="bench")
    if not found:
        raise NcpiError(
            "The benchmark is not installed in this environment: run `make bench` from a "
            "checkout of the repository (it installs tools/bench into .venv-bench)."
        )
    return next(iter(found)).load()(args)


def main(argv: list[str] | None = None) -> int:
    """Run one command. Every failure is one message (and the command line's advice on the
    next line) and a non-zero exit, never a traceback (NCPI_QA_DEBUG=1 shows the traceback of
    an unexpected error). With --json it is ``{"error": {"code", "message", "advice"}}`` on
    stdout."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")  # odd text never crashes a print
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(json_errors="--json" in argv).parse_args(argv)
    commands = {
        "index": cmd_index, "ask": cmd_ask, "app": cmd_app, "docs": cmd_docs, "doc": cmd_doc,
        "eval": cmd_eval, "bench": cmd_bench,
    }  # fmt: skip
    try:
        return commands[args.command](args)
    except KeyboardInterrupt:
        print("Interrupted; the previous index (if any) is still in place.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `ncpi-qa doc X | head`: the reader left; not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as e:
        if not isinstance(e, NcpiError):
            if _debug():
                raise
            e = UnexpectedError(e)
        _report(e, getattr(args, "json", False))
        return e.exit_code


def _report(e: NcpiError, as_json: bool) -> None:
    """The one place the command line says what went wrong (the error's message) and what to
    do about it (its command-line advice, apps/advice.py)."""
    tip = advice(e, "cli")
    if as_json:
        print_json_error(e.code, str(e), tip)
        return
    print(f"Error: {e}", file=sys.stderr)
    if tip:
        print(tip, file=sys.stderr)


def _debug() -> bool:
    """settings.debug (NCPI_QA_DEBUG=1); an unreadable environment counts as off."""
    from ncpi_qa.settings import Settings

    try:
        return Settings().debug
    except Exception:  # the error it raises is the one being reported (or will be)
        log.debug("settings unreadable while checking NCPI_QA_DEBUG", exc_info=True)
        return False


if __name__ == "__main__":
    sys.exit(main())
