"""Write evals/followups-standalone-squad-report.jsonl: 60 standalone questions that hold a
pronoun, each asked after an unrelated question (issue 25: answered exactly as alone).

Both come from SQuAD 2.0 dev articles of the ``report`` part (never fitted, tuned or
calibrated on): the standalone question is an answerable question with a third-person
pronoun or demonstrative; the question before it is an answerable question of another
article. Each row is a follow-up-set row whose ``followup`` equals ``full`` (a standalone
control, evals/followups.py). Fixed seed.

    .venv/bin/python tools/evals/make_standalone.py [--data ../shared/data/squad2] [--n 60]
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

from ncpi_qa.evals import squad
from ncpi_qa.settings import project_root

PRONOUN = re.compile(r"\b(it|its|they|their|them|he|his|him|she|her|this|that|these|those)\b", re.I)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=project_root().parent / "shared/data/squad2")
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--seed", type=int, default=20261206)
    args = ap.parse_args()
    articles = squad.select(squad.load_dev(args.data), part="report")
    indexed, _ = squad.scope_split(articles)
    rows = [r for r in squad.to_rows(indexed) if r.kind == "answerable"]
    rng = random.Random(args.seed)
    with_pronoun = [r for r in rows if PRONOUN.search(r.question)]
    picked = rng.sample(with_pronoun, args.n)
    out = project_root() / "evals" / "followups-standalone-squad-report.jsonl"
    with out.open("w", encoding="utf-8") as f:
        for n, r in enumerate(picked, 1):
            other = rng.choice([o for o in rows if o.group != r.group])
            row = {
                "id": f"st{n:02d}",
                "first": other.question,
                "followup": r.question,
                "full": r.question,
                "answers": r.answers,
                "support": r.support,
            }
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {out}: {len(picked)} of {len(with_pronoun)} questions with a pronoun")


if __name__ == "__main__":
    main()
