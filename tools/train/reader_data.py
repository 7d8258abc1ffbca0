"""The reader's training pairs: (question, heading, previous sentence, sentence, label, answer
span in the sentence).

Since 2026-12-06 the reader reads each sentence with the one before it (qa/reader.py's
"context-v1"), and SQuAD 2.0 train's own 43k unanswerable questions (rebuilt onto their
paragraphs, shared/data/squad2's README) are joined to the v1.1 train split by context string:
``join_unanswerable``. ``ans_keep`` keeps that share of the answerable questions, so a short
CPU budget still sees look-alikes as often as answerable questions.

From the whole SQuAD train split (v1.1, 442 articles, every question answerable), the
unanswerable questions of the SQuAD 2.0 train-10 file, and the dev articles of the ``fit``
part (answerable and adversarial unanswerable questions). Sentences are the app's own
(``ingest.text.sentence_spans`` on the whitespace-normalised paragraph), so the reader trains
on what it will read. Per question:

- answerable: the sentence holding the answer (label 1, with its span), the paragraph's
  other sentence that shares most of the question's rare words (a hard negative), and the
  sentence of another paragraph of the article that does (a look-alike from elsewhere);
- unanswerable (SQuAD 2.0's look-alikes): the sentence holding the ``plausible_answer`` and
  the paragraph's best-overlapping sentences, all label 0, and a look-alike from elsewhere;
- out of scope: for a share of questions, the best-overlapping sentence of another article;
- synthetic look-alikes (``synth_share`` of the answerable questions): the question with one
  detail the answer sentence confirms swapped for a detail of the same type from elsewhere in
  the article (a name for a name, a number for a number, a rare word for a rare word), or
  negated after its auxiliary — paired with the answer sentence, label 0. These are SQuAD
  2.0's own recipes for look-alikes (entity swap, mutual exclusion, negation; Rajpurkar, Jia
  & Liang 2018), made from the answerable questions because SQuAD 2.0's train split (its
  43k unanswerable questions) is not here: the v1.1 train split alone never shows the reader
  a question whose topic is in the sentence but whose detail is not.

Overlap is IDF-weighted shared words (IDF over the article's sentences): no word lists (the
perturbations use only the general English stopword list of ingest/text.py).
"""

from __future__ import annotations

import gzip
import json
import math
import random
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from ncpi_qa.ingest.text import STOPWORDS, sentence_spans

_WORD = re.compile(r"\w+")
_TOKEN = re.compile(r"\w+(?:[-'’.]\w+)*")
_AUX = re.compile(
    r"\b(is|are|was|were|did|does|do|can|could|has|have|had|will|would|should|might|may)\b",
    re.I,
)  # the auxiliaries a negated question puts "not" after (English grammar, not a fitted list)
_NEGATED = re.compile(r"\b(not|never|no)\b|n't\b", re.I)


@dataclass(frozen=True)
class Pair:
    question: str
    heading: str
    sentence: str
    label: float
    span: tuple[int, int] | None  # the answer's [start, end) in ``sentence``
    kind: str  # pos | para_neg | elsewhere | unans | oos | synth
    previous: str = ""  # the sentence before ``sentence`` in its article


def read_json(path: Path) -> list[dict]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.load(f)["data"]


def _norm_offset(raw: str, i: int) -> int:
    """Where raw[i] lands in ' '.join(raw.split())."""
    head = raw[:i]
    n = len(" ".join(head.split()))
    return n + (1 if head[-1:].isspace() and n else 0)


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


def join_unanswerable(articles: list[dict], rebuilt: list[dict], log=print) -> int:
    """Add the rebuilt SQuAD 2.0 unanswerable questions to the paragraphs of ``articles`` with
    the same context string (in place); only those placed with high confidence. Returns how
    many were joined."""
    by_context = {}
    for art in articles:
        for p in art["paragraphs"]:
            by_context[p["context"]] = p
    joined = missing = 0
    for art in rebuilt:
        for p in art["paragraphs"]:
            qas = [q for q in p["qas"] if q.get("placement_confidence", "high") == "high"]
            target = by_context.get(p["context"])
            if target is None:
                missing += len(qas)
                continue
            target["qas"] = target["qas"] + qas
            joined += len(qas)
    log(f"unanswerable joined: {joined} ({missing} on paragraphs not found)")
    return joined


class Article:
    """An article's sentences with an inverted index of their words."""

    def __init__(self, art: dict) -> None:
        self.title = art["title"].replace("_", " ")
        self.paras = []  # (context, [(s, e)], first sentence id)
        self.sents: list[tuple[int, str]] = []  # (paragraph index, text)
        post = defaultdict(list)
        for pi, p in enumerate(art["paragraphs"]):
            ctx = " ".join(p["context"].split())
            spans = sentence_spans(ctx)
            self.paras.append((ctx, spans, len(self.sents)))
            for s, e in spans:
                sid = len(self.sents)
                self.sents.append((pi, ctx[s:e]))
                for w in _words(ctx[s:e]):
                    post[w].append(sid)
        n = max(len(self.sents), 1)
        self.idf = {w: math.log((n + 1) / (len(ids) + 0.5)) for w, ids in post.items()}
        self.post = post

    def overlap(self, question: str) -> dict[int, float]:
        acc: dict[int, float] = defaultdict(float)
        for w in _words(question):
            for sid in self.post.get(w, ()):
                acc[sid] += self.idf[w]
        return acc

    def previous(self, sid: int) -> str:
        return self.sents[sid - 1][1] if sid > 0 else ""

    def best(self, question: str, exclude_para: int | None = None, only_para: int | None = None):
        scores = self.overlap(question)
        ranked = sorted(scores, key=lambda s: -scores[s])
        for sid in ranked:
            pi = self.sents[sid][0]
            if exclude_para is not None and pi == exclude_para:
                continue
            if only_para is not None and pi != only_para:
                continue
            yield sid


def _kind(tok: str) -> str:
    if any(c.isdigit() for c in tok):
        return f"num{len(tok)}"
    return "name" if tok[:1].isupper() else "word"


def perturb(question: str, sentence: str, answer: str, a: Article, rng: random.Random):
    """An unanswerable look-alike of ``question`` for ``sentence``, or None: one detail of the
    question that the sentence confirms swapped for a same-type detail the sentence does not
    have, or (a fifth of the time) the question negated."""
    if rng.random() < 0.2 and not _NEGATED.search(question):
        m = _AUX.search(question)
        if m and m.end() < len(question) - 3:
            return question[: m.end()] + " not" + question[m.end() :]
    sent_words = _words(sentence)
    ans_words = _words(answer)
    toks = [
        m for m in _TOKEN.finditer(question)
        if m.start() > 0 and m.group().lower() not in STOPWORDS and len(m.group()) > 2
        and m.group().lower() in sent_words and m.group().lower() not in ans_words
    ]  # fmt: skip
    if not toks:
        return None
    m = rng.choice(toks)
    kind = _kind(m.group())
    q_words = _words(question)
    pool = sorted(
        {
            t for _, text in a.sents for t in _TOKEN.findall(text)
            if _kind(t) == kind and len(t) > 2 and t.lower() not in STOPWORDS
            and t.lower() not in sent_words and t.lower() not in q_words
            and a.idf.get(t.lower(), 0) > 1.0
        }
    )  # fmt: skip
    if not pool:
        return None
    return question[: m.start()] + rng.choice(pool) + question[m.end() :]


def _sentence_at(spans, pos: int) -> int | None:
    for k, (s, e) in enumerate(spans):
        if s <= pos < e:
            return k
    return None


def article_pairs(
    art: dict,
    rng: random.Random,
    others: list[Article],
    oos_share: float,
    synth_share: float = 0.0,
    ans_keep: float = 1.0,
    elsewhere_share: float = 1.0,
):
    a = Article(art)
    out: list[Pair] = []

    def pair(question, sid, label, span, kind, art_: Article = a) -> Pair:
        return Pair(question, art_.title, art_.sents[sid][1], label, span, kind, art_.previous(sid))

    for pi, p in enumerate(art["paragraphs"]):
        ctx, spans, first = a.paras[pi]
        for q in p["qas"]:
            question = " ".join(q["question"].split())
            if not question:
                continue
            impossible = bool(q.get("is_impossible"))
            if not impossible and ans_keep < 1.0 and rng.random() >= ans_keep:
                continue
            taken: set[int] = set()
            if not impossible:
                ans = q["answers"][0]
                s0 = _norm_offset(p["context"], ans["answer_start"])
                e0 = s0 + len(" ".join(ans["text"].split()))
                k = _sentence_at(spans, s0)
                if k is None or ctx[s0:e0] != " ".join(ans["text"].split()):
                    continue
                ss, se = spans[k]
                span = (s0 - ss, min(e0, se) - ss) if e0 <= se else None
                out.append(pair(question, first + k, 1.0, span, "pos"))
                taken.add(first + k)
                if synth_share and rng.random() < synth_share:
                    fake = perturb(question, ctx[ss:se], ans["text"], a, rng)
                    if fake:
                        out.append(pair(fake, first + k, 0.0, None, "synth"))
                for sid in a.best(question, only_para=pi):
                    if sid not in taken:
                        out.append(pair(question, sid, 0.0, None, "para_neg"))
                        break
            else:
                n_neg = 2
                plausible = q.get("plausible_answers") or q.get("plausible_answers_approx") or []
                for pl in plausible:
                    k = _sentence_at(spans, _norm_offset(p["context"], pl["answer_start"]))
                    if k is not None:
                        taken.add(first + k)
                        out.append(pair(question, first + k, 0.0, None, "unans"))
                        n_neg -= 1
                        break
                for sid in a.best(question, only_para=pi):
                    if n_neg <= 0:
                        break
                    if sid not in taken:
                        taken.add(sid)
                        out.append(pair(question, sid, 0.0, None, "unans"))
                        n_neg -= 1
            if rng.random() < elsewhere_share:
                for sid in a.best(question, exclude_para=pi):
                    out.append(pair(question, sid, 0.0, None, "elsewhere"))
                    break
            if others and rng.random() < oos_share:
                o = rng.choice(others)
                for sid in o.best(question):
                    out.append(pair(question, sid, 0.0, None, "oos", o))
                    break
    return a, out


def build_pairs(
    articles: list[dict],
    seed: int,
    oos_share: float = 0.1,
    log=print,
    synth_share: float = 0.0,
    ans_keep: float = 1.0,
    elsewhere_share: float = 1.0,
) -> list[Pair]:
    """All pairs of ``articles``, shuffled with ``seed`` (any prefix is a fair sample)."""
    rng = random.Random(seed)
    pairs: list[Pair] = []
    recent: list[Article] = []
    for n, art in enumerate(articles):
        a, ps = article_pairs(art, rng, recent, oos_share, synth_share, ans_keep, elsewhere_share)
        pairs += ps
        recent = (recent + [a])[-8:]
        if (n + 1) % 100 == 0:
            log(f"pairs: {n + 1}/{len(articles)} articles, {len(pairs)} pairs")
    rng.shuffle(pairs)
    return pairs
