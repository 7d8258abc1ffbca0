"""Workloads for ``ncpi-qa bench``: scale corpora made offline, the dev questions and generated
ones, and the texts the index embeds.

Documents are report-like Markdown: a title, then numbered sections whose bodies are a few
paragraphs of real prose. The prose is sentences taken from Debian's documentation on this
machine (``/usr/share/doc``: READMEs, NEWS, changelogs, copyright notices), mixed with
"topical" sentences spliced from the shipped corpus (the first words of a corpus sentence,
the tail of a Debian one), so that the dev-set questions meet near-miss distractors. Each
section body stays under the chunk size, so one section is one chunk and a corpus of ``n``
sections has about ``n`` chunks (plus the shipped documents' own chunks).

Nothing here is committed data: corpora are written to a temporary folder by ``bench``.
"""

from __future__ import annotations

import gzip
import random
import re
import shutil
from dataclasses import asdict
from pathlib import Path

DOC_ROOT = Path("/usr/share/doc")
DOC_NAMES = ("readme", "news", "changelog", "copyright", "todo", "authors", "bugs", "thanks")
SECTION_MAX_CHARS = 760  # below settings.chunk_max_chars (800): one section, one chunk

_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_PROSE = re.compile(r"[A-Z][A-Za-z0-9 ,;:'()/%-]*[a-z0-9)][.!?]")
_ODD = re.compile(r"\.\.|\b\w+\.\w+\b|\s[,;:.]|\(\s|\s\)|[A-Z]{5,}")
_WORD = re.compile(r"[a-z]{5,12}")
_FALLBACK = [  # only where /usr/share/doc holds too little prose (a slim container)
    "The inspection examined how the force responded to concerns raised by other agencies.",
    "Officers did not always record the reasons for their decisions in a consistent way.",
    "Supervisors reviewed most cases promptly, although some reviews lacked any real depth.",
]


def _read(path: Path, limit: int) -> str:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                data = f.read(limit)
        else:
            with open(path, "rb") as f:
                data = f.read(limit)
    except (OSError, EOFError):
        return ""
    return data.decode("utf-8", errors="ignore")


def prose_sentences(text: str) -> list[str]:
    """Plain prose sentences (40-260 chars, letters and simple punctuation) from a text file."""
    out = []
    for para in re.split(r"\n\s*\n", text):
        lines = [ln.strip().lstrip("*-+ ").strip() for ln in para.splitlines()]
        flat = re.sub(r"\s+", " ", " ".join(ln for ln in lines if ln))
        for s in _SPLIT.split(flat):
            s = s.strip()
            if (
                40 <= len(s) <= 260
                and len(s.split()) >= 7
                and _PROSE.fullmatch(s)
                and not _ODD.search(s)
            ):
                out.append(s)
    return out


def doc_files(root: Path = DOC_ROOT) -> list[Path]:
    if not root.is_dir():
        return []
    files = []
    for p in sorted(root.rglob("*")):
        name = p.name.lower().removesuffix(".gz")
        if p.is_file() and any(name.startswith(n) for n in DOC_NAMES):
            files.append(p)
    return files


def sentence_pool(
    max_sentences: int = 60_000, root: Path = DOC_ROOT, per_file_bytes: int = 200_000
) -> list[str]:
    """Unique prose sentences from Debian's documentation, in a stable order."""
    seen: dict[str, None] = {}
    for path in doc_files(root):
        for s in prose_sentences(_read(path, per_file_bytes)):
            seen.setdefault(s)
        if len(seen) >= max_sentences:
            break
    pool = list(seen)[:max_sentences]
    return pool if len(pool) >= 50 else pool + _FALLBACK


def topical_sentences(corpus_dir: Path) -> list[str]:
    """Sentences of the shipped corpus (loaded and split as the index would)."""
    from ncpi_qa.errors import LoadError
    from ncpi_qa.ingest.documents import corpus_files, load_document
    from ncpi_qa.ingest.text import sentence_spans

    out = []
    for path in corpus_files(corpus_dir) if corpus_dir.is_dir() else []:
        try:
            doc = load_document(path)
        except LoadError:
            continue
        out += [doc.text[s:e] for s, e in sentence_spans(doc.text) if e - s >= 30]
    return out


class CorpusGenerator:
    """Deterministic (by seed) report-like documents from a sentence pool. A section draws its
    sentences from a window of neighbouring pool sentences (one Debian document: one topic);
    ``topical_rate`` of them are splices from a fixed set (the same for every seed)."""

    def __init__(
        self, pool: list[str], topical: list[str] | None = None, seed: int = 0,
        topical_rate: float = 0.01, window: int = 24, n_splices: int = 300,
    ) -> None:  # fmt: skip
        self.pool, self.window = pool, window
        self.rng = random.Random(seed)
        self.splices = _splices(pool, topical or [], n_splices)
        self.topical_rate = topical_rate if self.splices else 0.0
        words = {w for s in pool[:5000] for w in _WORD.findall(s.lower())}
        self.words = sorted(words) or ["report", "finding", "practice", "review"]
        self._queue: list[str] = []

    def sentence(self) -> str:
        rng = self.rng
        if rng.random() < self.topical_rate:
            return rng.choice(self.splices)
        if not self._queue:
            start = rng.randrange(len(self.pool))
            self._queue = [self.pool[(start + i) % len(self.pool)] for i in range(self.window)]
            rng.shuffle(self._queue)
        return self._queue.pop()

    def phrase(self, n: int) -> str:
        return " ".join(self.rng.choice(self.words) for _ in range(n)).capitalize()

    def section_body(self, max_chars: int = SECTION_MAX_CHARS) -> str:
        target, self._queue = self.rng.randint(320, max_chars), []
        paras: list[list[str]] = [[]]
        length = 0
        while True:
            s = self.sentence()
            extra = len(s) + (0 if not length else (2 if not paras[-1] else 1))
            if length and length + extra > target:
                break
            if length + extra > max_chars:
                continue
            if paras[-1] and (len(paras[-1]) >= 4 or self.rng.random() < 0.3):
                paras.append([])
                extra = len(s) + 2
            paras[-1].append(s)
            length += extra
        return "\n\n".join(" ".join(p) for p in paras if p)

    def document(self, number: int, sections: int) -> str:
        parts = [f"# Report {number}: {self.phrase(3)}", ""]
        for j in range(1, sections + 1):
            parts += [
                f"## Section {j}: {self.phrase(self.rng.randint(2, 4))}",
                "",
                self.section_body(),
                "",
            ]
        return "\n".join(parts)

    def question(self) -> str:
        words = self.rng.sample(self.words, 3)
        template = self.rng.choice(
            [
                "What does the report say about {} {} and {}?",
                "How is {} {} handled in {}?",
                "When was the {} {} {} introduced?",
                "Who is responsible for {} {} {}?",
                "How many {} {} were recorded for {}?",
                "Why was {} {} changed in {}?",
            ]
        )
        return template.format(*words)


def _splices(pool: list[str], topical: list[str], n: int) -> list[str]:
    """The first words of a shipped-corpus sentence, the tail of a Debian one: near-miss
    distractors for the dev questions. A fixed set, so their vectors can be made once."""
    rng, out = random.Random(0), []
    for _ in range(n if topical and pool else 0):
        head, tail = rng.choice(topical).split(), rng.choice(pool).split()
        a = max(3, int(len(head) * rng.uniform(0.3, 0.7)))
        b = max(3, int(len(tail) * rng.uniform(0.3, 0.6)))
        text = " ".join(head[:a] + [w.lower() for w in tail[-b:]])
        out.append(text if text[-1] in ".!?" else text + ".")
    return out


def write_corpus(
    dest: Path,
    n_chunks: int,
    pool: list[str],
    shipped: Path | None = None,
    seed: int = 0,
    sections_per_doc: int = 100,
) -> dict:
    """Write about ``n_chunks`` chunks of Markdown reports to ``dest`` (plus the shipped
    corpus's files, copied as they are, when ``shipped`` is given)."""
    dest.mkdir(parents=True, exist_ok=True)
    topical = topical_sentences(shipped) if shipped else []
    if shipped:
        for p in sorted(shipped.iterdir()):
            if p.is_file() and not p.name.startswith(".") and p.name.lower() != "readme.md":
                shutil.copy2(p, dest / p.name)
    gen = CorpusGenerator(pool, topical, seed)
    files, chars, left, number = 0, 0, n_chunks, 1
    while left > 0:
        sections = min(sections_per_doc, left)
        text = gen.document(number, sections)
        (dest / f"report-{number:05d}.md").write_text(text + "\n", encoding="utf-8")
        files, chars, left, number = files + 1, chars + len(text), left - sections, number + 1
    return {"files": files, "chars": chars, "topical": len(topical), "splices": gen.splices}


def touch_one_file(dest: Path, pool: list[str], seed: int = 1) -> Path:
    """Change one generated report (append a section), as an edited document would."""
    path = sorted(dest.glob("report-*.md"))[-1]
    gen = CorpusGenerator(pool, seed=seed)
    with open(path, "a", encoding="utf-8") as f:
        f.write(f"\n## Addendum: {gen.phrase(3)}\n\n{gen.section_body()}\n")
    return path


def make_questions(gen: CorpusGenerator, dev: list[dict], n: int = 200) -> list[str]:
    """The dev set's questions first, then generated ones, ``n`` (or len(dev)) in all."""
    qs = [r["question"] for r in dev]
    while len(qs) < n:
        qs.append(gen.question())
    return qs


def dev_rows(root: Path) -> list[dict]:
    """The dev set's answerable rows that carry a support quote, as dicts (for child params)."""
    from ncpi_qa.evals.dataset import load_dataset

    path = root / "evals" / "dev.jsonl"
    return [asdict(r) for r in load_dataset(path) if r.support] if path.exists() else []


def corpus_texts(settings) -> tuple[list[str], list[str]]:
    """Exactly the texts build_index embeds (store.embed_texts): chunk texts, sentence texts."""
    from ncpi_qa.index.plan import chunk_for_index, embed_texts
    from ncpi_qa.ingest.documents import corpus_files, load_document

    chunk_texts, sent_texts = [], []
    for path in corpus_files(settings.corpus_dir):
        doc = load_document(path)
        chunks, sents = embed_texts(doc, chunk_for_index(doc, settings))
        chunk_texts += chunks
        sent_texts += sents
    return chunk_texts, sent_texts
