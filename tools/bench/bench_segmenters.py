"""Sentence segmenters measured against each other (issue 25 item 4).

Each candidate decides where a sentence ends *inside* a block; the layout rules of
``ingest.text`` (blank lines, list items with their bullet left out, heading lines, hard-wrapped
PDF lines) are applied first for every candidate, so the table compares the in-line decision.
The ``raw`` rows run the library alone on the whole text, for reference.

Measured on:
- the hand-written hard cases in ``tests/fixtures/sentences/hard_cases.jsonl``: the cases split
  exactly as a reader would, for the ``dev`` set (looked at while choosing the corrections) and
  the ``heldout`` set (written afterwards, not tuned on), and precision/recall of the sentence
  boundaries (a sentence's end, the last one in a case aside) over both;
- SQuAD 2.0 dev paragraphs: the share of gold answers that a split cuts in two (fewer is better);
- speed: sentences per second over the SQuAD paragraphs joined with the policy pages (~0.5 MB).

    nice -n 10 .venv/bin/python tools/bench/bench_segmenters.py [--squad PATH] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

from ncpi_qa.ingest import text as T

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests/fixtures/sentences/hard_cases.jsonl"
SQUAD = ROOT.parent / "shared/data/squad2/dev-v2.0-15-articles.json"
POLICY = sorted((ROOT.parent / "shared/data/domain-dev/corpus").glob("*.md"))


def map_strings(text: str, start: int, pieces: list[str]) -> list[int]:
    """Ends (offsets into ``text``) of a library's sentence strings, found in order; a string
    the library altered is matched on its words with any whitespace between them."""
    ends, cur = [], start
    for p in pieces:
        p = p.strip()
        if not p:
            continue
        i = text.find(p, cur)
        if i < 0:
            pat = r"\s*".join(re.escape(w) for w in p.split())
            m = re.compile(pat).search(text, cur)
            if not m:
                continue
            i, j = m.start(), m.end()
        else:
            j = i + len(p)
        ends.append(j)
        cur = j
    return ends


BASELINE = "293f2ff"  # the last commit with the hand-made in-line rule (chunker version 6)


def _old_module():
    """``ingest/text.py`` as of BASELINE, loaded from git as its own module."""
    import subprocess
    import types

    src = subprocess.run(
        ["git", "show", f"{BASELINE}:app/ncpi_qa/ingest/text.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    mod = types.ModuleType("text_v6")
    exec(compile(src, "text_v6.py", "exec"), mod.__dict__)
    return mod


def handmade_rule(old):
    """The hand-made in-line rule of BASELINE, as an in-line candidate."""

    def ends(text: str, s: int, e: int) -> list[int]:
        out = []
        for m in old._END.finditer(text, s, e):
            word = re.search(r"([A-Za-z.]+)\.?$", text[s : m.start() + 1])
            token = (word.group(1) if word else "").lower().rstrip(".")
            nxt = re.match(r"\s+(\S)", text[m.end() : e])
            if token in old._ABBREV or (len(token) == 1 and token.isalpha()):
                continue
            if nxt and nxt.group(1).islower():
                continue
            out.append(m.end())
            s = m.end()
        return out

    return ends


def _pysbd():
    import pysbd

    seg = pysbd.Segmenter(language="en", clean=False)
    return lambda text, s, e: map_strings(text, s, seg.segment(text[s:e]))


def _sentencex():
    import sentencex

    return lambda text, s, e: map_strings(text, s, list(sentencex.segment("en", text[s:e])))


def _syntok():
    from syntok import segmenter

    def ends(text, s, e):
        out = []
        for para in segmenter.analyze(text[s:e]):
            for sent in para:
                out.append(s + sent[-1].offset + len(sent[-1].value))
        return out

    return ends


def sentencex_corrected(veto: bool, brackets: bool):
    """sentencex with the shipped corrections on or off (an ablation of ``_inline_ends``)."""

    def ends(text: str, s: int, e: int) -> list[int]:
        out = set()
        for x in T._segmenter_ends(text, s, e):
            if x >= e or not text[s:x].strip():
                continue
            token = T._last_word(text, max(s, x - 40), x)
            nxt = text[x:e].lstrip()[:1]
            never = token in T._NEVER_FINAL or (token in T._BEFORE_NUMBER and nxt.isdigit())
            if not (veto and never):
                out.add(x)
        if brackets:
            out.update(m.end() for m in T._BRACKET_END.finditer(text, s, e))
        return sorted(out)

    return ends


def layout_spans(inline, text: str) -> list[tuple[int, int]]:
    """``ingest.text``'s layout (blocks, bullets, headings) with ``inline`` deciding the ends."""
    spans = []
    for ps, pe in T._hard_pieces(text, 0, len(text)):
        ps, pe = T._trim(text, ps, pe)
        if ps >= pe:
            continue
        ps = T._strip_bullet(text, ps, pe)
        s = ps
        for e in [*inline(text, ps, pe), pe]:
            a, b = T._trim(text, s, min(e, pe))
            if a < b and a >= s:
                spans.append((a, b))
            s = max(s, e)
    return spans


def raw_spans(inline, text: str) -> list[tuple[int, int]]:
    spans, s = [], 0
    for e in [*inline(text, 0, len(text)), len(text)]:
        a, b = T._trim(text, s, e)
        if a < b:
            spans.append((a, b))
        s = max(s, e)
    return spans


def gold_spans(text: str, sentences: list[str]) -> list[tuple[int, int]]:
    out, cur = [], 0
    for sent in sentences:
        i = text.index(sent, cur)
        out.append((i, i + len(sent)))
        cur = i + len(sent)
    return out


def score_cases(split, cases) -> dict:
    exact = tp = n_pred = n_gold = 0
    failed = []
    for c in cases:
        gold = gold_spans(c["text"], c["sentences"])
        got = split(c["text"])
        exact += got == gold
        if got != gold:
            failed.append(c["id"])
        gb, pb = {e for _, e in gold[:-1]}, {e for _, e in got[:-1]}
        tp += len(gb & pb)
        n_pred += len(pb)
        n_gold += len(gb)
    return {
        "exact": exact,
        "cases": len(cases),
        "precision": tp / max(n_pred, 1),
        "recall": tp / max(n_gold, 1),
        "failed": failed,
    }


def score_squad(split, paragraphs) -> dict:
    cut = total = 0
    for p in paragraphs:
        spans = split(p["context"])
        for q in p["qas"]:
            if not q["answers"]:
                continue
            a = q["answers"][0]
            s, e = a["answer_start"], a["answer_start"] + len(a["text"])
            total += 1
            cut += not any(x <= s and e <= y for x, y in spans)
    return {"answers": total, "cut": cut, "cut_rate": cut / max(total, 1)}


def score_speed(split, text: str) -> dict:
    t0 = time.perf_counter()
    n = len(split(text))
    dt = time.perf_counter() - t0
    return {"kb": len(text) / 1000, "sentences": n, "seconds": dt, "sent_per_s": n / dt}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--squad", type=Path, default=SQUAD)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    cases = [json.loads(x) for x in CASES.read_text().splitlines() if x.strip()]
    paras = [p for a in json.loads(args.squad.read_text())["data"] for p in a["paragraphs"]]
    corpus = "\n\n".join([p["context"] for p in paras] + [f.read_text() for f in POLICY])
    old = _old_module()
    whole = {"hand-made v6 as shipped": old.sentence_spans, "shipped v7": T.sentence_spans}
    cands = {"hand-made v6 rule": handmade_rule(old)}
    for name, make in (("pysbd", _pysbd), ("sentencex", _sentencex), ("syntok", _syntok)):
        try:
            cands[name] = make()
        except ImportError as exc:
            print(f"skip {name}: {exc}", file=sys.stderr)
    cands["sentencex + veto"] = sentencex_corrected(True, False)
    cands["sentencex + brackets"] = sentencex_corrected(False, True)
    runs = [(name, "whole", fn) for name, fn in whole.items()]
    for name, inline in cands.items():
        for mode, wrap in (("layout", layout_spans), ("raw", raw_spans)):
            if mode == "raw" and name.startswith(("hand", "sentencex +")):
                continue
            runs.append((name, mode, lambda t, i=inline, w=wrap: w(i, t)))
    rows = []
    for name, mode, split in runs:
        row = {"segmenter": name, "mode": mode}
        row["hard"] = score_cases(split, cases)
        for part in ("dev", "heldout"):
            row[part] = score_cases(split, [c for c in cases if c["set"] == part])
        row["squad"] = score_squad(split, paras)
        row["speed"] = score_speed(split, corpus)
        rows.append(row)
        h, q, v = row["hard"], row["squad"], row["speed"]
        d, o = row["dev"], row["heldout"]
        print(
            f"| {name} | {mode} | {d['exact']}/{d['cases']} | {o['exact']}/{o['cases']} | "
            f"{h['precision']:.3f} | "
            f"{h['recall']:.3f} | {q['cut']}/{q['answers']} ({q['cut_rate']:.2%}) | "
            f"{v['sent_per_s']:,.0f} |",
            flush=True,
        )
    print("| segmenter | mode | dev exact | held-out exact | P | R | answers cut | sent/s |")
    print(f"load average {os.getloadavg()}, {os.cpu_count()} CPUs", file=sys.stderr)
    for r in rows:
        print(r["segmenter"], r["mode"], "failed:", " ".join(r["hard"]["failed"]), file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
