"""The `ncpi-qa` command line's arguments (apps/cli.py runs the command they name)."""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

DESCRIPTION = "Answers questions from the indexed documents, each answer quoted and cited."


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is JSON on stdout when the command line asks for --json."""

    def __init__(self, *args, json_errors: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.json_errors = json_errors

    def error(self, message):
        if self.json_errors:
            print_json_error("bad_argument", f"{self.prog}: {message}")
            sys.exit(2)
        super().error(message)


def print_json_error(code: str, message: str, tip: str = "") -> None:
    def safe(text: str) -> str:  # no lone surrogates in JSON
        return text.encode("utf-8", "replace").decode("utf-8")

    error = {"code": code, "message": safe(message), "advice": safe(tip)}
    print(json.dumps({"error": error}, ensure_ascii=False))


def build_parser(json_errors: bool = False) -> argparse.ArgumentParser:
    """The `ncpi-qa` command line; ``args.command`` names the subcommand. ``json_errors``:
    a usage error is printed as JSON on stdout (the command line asked for --json)."""
    p = _Parser(prog="ncpi-qa", description=DESCRIPTION, json_errors=json_errors)
    parser_class = functools.partial(_Parser, json_errors=json_errors)
    sub = p.add_subparsers(dest="command", required=True, parser_class=parser_class)

    for add in (_index, _ask, _app, _docs, _eval):  # each adds its subcommand(s)
        for sp in add(sub):
            sp.add_argument("--store", type=Path, help="index folder (env NCPI_QA_STORE_DIR)")
    sp = sub.add_parser("bench", help="benchmark indexing and asking")
    sp.add_argument("--quick", action="store_true")
    sp.add_argument("--json", action="store_true")
    return p


def _index(sub):
    """`ncpi-qa index`"""
    sp = sub.add_parser("index", help="build or update the index")
    sp.add_argument("--corpus", type=Path, help="corpus folder (env NCPI_QA_CORPUS_DIR)")
    sp.add_argument("--rebuild", action="store_true", help="re-embed everything")
    sp.add_argument("--progress", action="store_true", help="show a progress bar even if piped")
    return [sp]


def _ask(sub):
    """`ncpi-qa ask`"""
    sp = sub.add_parser("ask", help="answer a question with citations")
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
    return [sp]


def _app(sub):
    """`ncpi-qa app`"""
    sp = sub.add_parser("app", help="start the chat app")
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
    return [sp]


def _docs(sub):
    """`ncpi-qa docs` and `ncpi-qa doc DOC_ID`"""
    docs = sub.add_parser("docs", help="list indexed documents")
    docs.add_argument("--json", action="store_true")
    doc = sub.add_parser("doc", help="print a document's extracted text")
    doc.add_argument("doc_id")
    doc.add_argument("--json", action="store_true")
    return [docs, doc]


def _eval(sub):
    """`ncpi-qa eval`: a gold set, or the SQuAD, policy-prose or follow-up runners"""
    sp = sub.add_parser("eval", help="score answers on a gold question set")
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
    return [sp]
