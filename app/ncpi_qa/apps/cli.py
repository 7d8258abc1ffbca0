"""The `ncpi-qa` command. Heavy libraries are imported only by the subcommands that need them."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ncpi_qa.errors import (
    BadArgumentError,
    NcpiError,
    PortUnavailableError,
    QuestionEncodingError,
    RemoteBindRefusedError,
    UnexpectedError,
    UnknownDocumentError,
)


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


def _session_turns(path: Path) -> list:
    """The earlier turns in a ``--session`` file: a JSON list (or ``{"turns": [...]}``) of
    ``ask --json`` answers, chat turns (``{"q", "answer", "citations"}``) or questions."""
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
    return turns


def _history(qa, args) -> list:
    """The turns this question is asked after: the session file's, then each ``--after``
    question asked in order (so that each can lean on the ones before it)."""
    history: list = []
    for t in _session_turns(args.session) if args.session else []:
        asked = isinstance(t, dict) and ("answer" in t or "citations" in t)
        q = t if isinstance(t, str) else t.get("question") or t.get("q")
        if asked or not isinstance(q, str) or not q.strip():
            history.append(t)
        else:
            history.append(qa.ask(_check_text(q), k=args.k, history=history))
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
        print(answer.context["note"])
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
    for name, why in store.manifest.get("skipped", []):
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
    from ncpi_qa.evals.run import main as eval_main

    return eval_main(args, _settings(args))


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


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is JSON on stdout when the command line asks for --json."""

    def error(self, message):
        if _JSON_ARGV[0]:
            _print_json_error("bad_argument", f"{self.prog}: {message}")
            sys.exit(2)
        super().error(message)


_JSON_ARGV = [False]


def _print_json_error(code: str, message: str) -> None:
    safe = message.encode("utf-8", "replace").decode("utf-8")  # no lone surrogates in JSON
    print(json.dumps({"error": {"code": code, "message": safe}}, ensure_ascii=False))


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ncpi-qa", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(sp):
        sp.add_argument("--store", type=Path, help="index folder (env NCPI_QA_STORE_DIR)")
        return sp

    sp = common(sub.add_parser("index", help="build or update the index"))
    sp.add_argument("--corpus", type=Path, help="corpus folder (env NCPI_QA_CORPUS_DIR)")
    sp.add_argument("--rebuild", action="store_true", help="re-embed everything")
    sp.add_argument("--progress", action="store_true", help="show a progress bar even if piped")
    sp.set_defaults(func=cmd_index)

    sp = common(sub.add_parser("ask", help="answer a question with citations"))
    sp.add_argument("question")
    sp.add_argument("--json", action="store_true")
    sp.add_argument("--k", type=int, help="passages to retrieve")
    sp.add_argument(
        "--after",
        action="append",
        metavar="QUESTION",
        help="an earlier question this one follows up (asked first; repeat for several, "
        "oldest first)",
    )
    sp.add_argument(
        "--session",
        type=Path,
        help="a JSON list of earlier turns (`ask --json` answers or questions), oldest first",
    )
    sp.set_defaults(func=cmd_ask)

    sp = common(sub.add_parser("app", help="start the chat app"))
    sp.add_argument("--host", default=None, help="address to bind (env NCPI_QA_HOST)")
    sp.add_argument("--port", type=int, default=None)
    sp.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --host other than loopback (the app is then reachable by others)",
    )
    sp.add_argument(
        "--auth-file", type=Path, default=None, help="'user:password' lines: require a login"
    )
    sp.set_defaults(func=cmd_app)

    sp = common(sub.add_parser("docs", help="list indexed documents"))
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_docs)

    sp = common(sub.add_parser("doc", help="print a document's extracted text"))
    sp.add_argument("doc_id")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_doc)

    sp = common(sub.add_parser("eval", help="score answers on a gold question set"))
    sp.add_argument("--dataset", type=Path, default=None)
    sp.add_argument("--json", action="store_true")
    sp.add_argument("--report", type=Path, help="write an HTML report with plots here")
    sp.add_argument("--k", type=int)
    sp.add_argument("--gate", action="store_true", help="exit 1 below the CI thresholds")
    sp.add_argument(
        "--followups",
        type=Path,
        help="a follow-up set (evals/followups-*.jsonl): each follow-up asked after its first "
        "question, against the same question written out in full (with --squad: over those "
        "articles' index)",
    )
    sq = sp.add_argument_group("SQuAD 2.0 runner (instead of --dataset)")
    sq.add_argument(
        "--squad",
        type=Path,
        help="a SQuAD v2 JSON file, or a folder of them (shared/data/squad2: all the dev "
        "articles): the articles become the corpus (indexed together in a scratch store), "
        "their questions the dataset; a fifth of the articles stays out of the index and "
        "their questions are asked as out of scope",
    )
    sq.add_argument(
        "--no-oos", action="store_true", help="index every selected article (no out-of-scope)"
    )
    sq.add_argument(
        "--part",
        choices=("fit", "calib", "report"),
        help="only the dev articles (SQuAD) or pages (--domain: fit or report) of this fixed "
        "split part (evals/README.md)",
    )
    sq.add_argument("--titles", nargs="+", help="only these articles")
    sq.add_argument("--articles", type=int, help="only the first N articles")
    sq.add_argument("--limit", type=int, help="a fixed random sample of N questions")
    sq.add_argument("--seed", type=int, default=0, help="the sample's seed (default 0)")
    sq.add_argument("--work", type=Path, help="scratch folder for the SQuAD corpus and index")
    dm = sp.add_argument_group("Policy-prose runner (instead of --dataset)")
    dm.add_argument(
        "--domain",
        type=Path,
        help="the policy-prose set (shared/data/domain-dev): its pages indexed with the seed "
        "page in a scratch store, its questions (three kinds) the dataset; with --part, only "
        "the questions of that part's pages (fit: calibrated on; report: never fitted on)",
    )
    sp.set_defaults(func=cmd_eval)

    sp = sub.add_parser("bench", help="benchmark indexing and asking")
    sp.add_argument("--quick", action="store_true")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command. Every failure is one message and a non-zero exit, never a traceback
    (NCPI_QA_DEBUG=1 shows the traceback of an unexpected error). With --json the message is
    ``{"error": {"code", "message"}}`` on stdout."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")  # odd text never crashes a print
    argv = sys.argv[1:] if argv is None else list(argv)
    _JSON_ARGV[0] = "--json" in argv
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
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
        if getattr(args, "json", False):
            _print_json_error(e.code, str(e))
        else:
            print(f"Error: {e}", file=sys.stderr)
        return e.exit_code


def _debug() -> bool:
    """settings.debug (NCPI_QA_DEBUG=1); an unreadable environment counts as off."""
    from ncpi_qa.settings import Settings

    try:
        return Settings().debug
    except Exception:
        return False


if __name__ == "__main__":
    sys.exit(main())
