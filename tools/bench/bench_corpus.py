"""Workloads and measuring tools for ``ncpi-qa bench``: scale corpora made offline, a cheap
synthetic embedder, questions, and timers that notice a shared machine.

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
import json
import os
import random
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np

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
    from ncpi_qa.ingest.documents import LoadError, corpus_files, load_document
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


class HashProjectionEmbedder:
    """Cheap stand-in for the model at scale: hashed bag of words, random projection to ``dim``,
    L2-normalised. Texts sharing words get similar vectors, so an ANN index sees clustered,
    text-like data (unlike uniform random vectors); it has no semantics beyond that."""

    def __init__(self, dim: int = 384, n_features: int = 2**15, seed: int = 0) -> None:
        from sklearn.feature_extraction.text import HashingVectorizer

        self.name = f"bench/hash-projection-{dim}"
        self.dim = dim
        self.texts_encoded = 0
        self._hv = HashingVectorizer(
            n_features=n_features, alternate_sign=False, norm=None, dtype=np.float32
        )
        rng = np.random.default_rng(seed)
        self._proj = rng.standard_normal((n_features, dim), dtype=np.float32)

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        step = 50_000
        for a in range(0, len(texts), step):
            x = self._hv.transform(texts[a : a + step])
            x.data = np.log1p(x.data)
            out[a : a + step] = x @ self._proj
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        self.texts_encoded += len(texts)
        return out


_PIECES = re.compile(r"\n+|(?<=[.!?])\s+(?=[A-Z])")


class PoolEmbedder:
    """Stand-in for the model at scale that keeps the model's geometry. Every pool sentence
    was embedded once by the real model; a text's vector is the normalised mean of the vectors
    of the pool sentences it is made of (a chunk: its sentences). Sentence-like pieces not in
    the pool (the shipped documents') are embedded by the model and kept; headings are left
    out of the mean."""

    def __init__(self, texts: list[str], vectors: np.ndarray, model) -> None:
        self.name, self.dim = "bench/pool-mean-of-model-vectors", int(vectors.shape[1])
        self.index = {t: i for i, t in enumerate(texts)}
        self.matrix, self.model, self.model_encoded = vectors.astype(np.float32), model, 0

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        from scipy.sparse import csr_matrix

        keys, missing = [], {}
        for t in texts:
            if t in self.index:
                keys.append((t,))
                continue
            pieces = [x.strip() for x in _PIECES.split(t)]
            pieces = [x for x in pieces if x in self.index or (x[-1:] in ".!?:" and " " in x)]
            keys.append(tuple(pieces) or (t,))
            missing.update((x, None) for x in keys[-1] if x not in self.index)
        if missing:
            new = list(missing)
            self.index.update((w, len(self.matrix) + i) for i, w in enumerate(new))
            self.matrix = np.vstack([self.matrix, self.model.encode(new).astype(np.float32)])
            self.model_encoded += len(new)
        rows = [i for i, k in enumerate(keys) for _ in k]
        cols = [self.index[x] for k in keys for x in k]
        ones = np.ones(len(rows), dtype=np.float32)
        out = csr_matrix((ones, (rows, cols)), shape=(len(texts), len(self.matrix))) @ self.matrix
        out = np.ascontiguousarray(out, dtype=np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, norms, out=out, where=norms > 0)


# ----------------------------------------------------------------------------- measuring
def percentile(values, q: float) -> float | None:
    """The q-th percentile (0..100, linear interpolation); None for no values."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else None


def summarize(values) -> dict:
    p50, p95 = percentile(values, 50), percentile(values, 95)
    return {
        "p50": None if p50 is None else round(p50, 2),
        "p95": None if p95 is None else round(p95, 2),
        "mean": round(float(np.mean(values)), 2) if len(values) else None,
        "n": len(values),
    }


def rate(n: float, seconds: float | None) -> float | None:
    return round(n / seconds, 2) if seconds else None


def _status_mb(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def _cpu_pressure_us() -> int | None:
    try:
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0]
        return int(some.rsplit("total=", 1)[1])
    except (OSError, IndexError, ValueError):
        return None


class Meter:
    """Wall and CPU seconds of a block, its peak RSS (VmHWM, reset on entry via clear_refs),
    and CPU pressure: the share of the block's time some task waited for a CPU (Linux PSI),
    which flags timings taken while other work shared the machine."""

    def __enter__(self) -> Meter:
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            pass
        self._p, self._c, self._w = _cpu_pressure_us(), time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self._w
        self.cpu = time.process_time() - self._c
        p = _cpu_pressure_us()
        self.pressure = (
            round((p - self._p) / 1e6 / self.wall, 2)
            if p is not None and self._p is not None and self.wall
            else None
        )
        self.peak_mb = _status_mb("VmHWM")


class TimedEmbedder:
    """Wraps an embedder and adds up the seconds spent in ``encode``."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.dim, self.seconds = inner, inner.name, inner.dim, 0.0

    def encode(self, texts, progress: bool = False):
        t = time.perf_counter()
        try:
            return self.inner.encode(texts, progress=progress)
        finally:
            self.seconds += time.perf_counter() - t


def corpus_texts(settings) -> tuple[list[str], list[str]]:
    """Exactly the texts build_index embeds: each chunk's embed text, and its sentences."""
    from ncpi_qa.ingest.chunking import chunk_document
    from ncpi_qa.ingest.documents import corpus_files, load_document

    chunk_texts, sent_texts = [], []
    for path in corpus_files(settings.corpus_dir):
        doc = load_document(path)
        chunks = chunk_document(doc, settings.chunk_max_chars)
        chunk_texts += [c.embed_text() for c in chunks]
        sent_texts += [doc.text[s:e] for c in chunks for s, e in c.sentences]
    return chunk_texts, sent_texts


def count_tokens(texts: list[str], sample: int = 20_000) -> tuple[int, bool]:
    """The model's WordPiece tokens (truncated at 256, as it encodes), estimated from a sample
    above ``sample`` texts. Returns (tokens, estimated)."""
    from tokenizers import Tokenizer

    from ncpi_qa.index.embedding import BUNDLED, model_path

    tok = Tokenizer.from_file(str(model_path(BUNDLED) / "tokenizer.json"))
    tok.enable_truncation(256)
    tok.no_padding()
    part = texts if len(texts) <= sample else random.Random(0).sample(texts, sample)
    n = sum(len(e.ids) for e in tok.encode_batch(part))
    return (n, False) if part is texts else (round(n * len(texts) / len(part)), True)


def machine() -> dict:
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    cpu = next(
        (ln.split(":", 1)[1].strip() for ln in info.splitlines() if ln.startswith("model name")),
        "unknown",
    )
    mem = next(
        (
            int(ln.split()[1])
            for ln in Path("/proc/meminfo").read_text().splitlines()
            if ln.startswith("MemTotal")
        ),
        0,
    )
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "mem_gib": round(mem / 2**20, 1),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": sys.version.split()[0],
    }


# ----------------------------------------------------------------------------- workload
def dev_rows(root: Path) -> list[dict]:
    path = root / "evals" / "dev.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def locate(docs, support: str, sources: set[str]) -> tuple[str, int, int] | None:
    """(doc id, start, end) of a dev row's support quote in a shipped document, given
    ``docs`` as (doc_id, source, text) triples."""
    from ncpi_qa.ingest.text import find_normalized

    for doc_id, source, text in docs:
        if source in sources:
            span = find_normalized(text, support)
            if span:
                return doc_id, span[0], span[1]
    return None


def overlaps(loc, spans) -> bool:
    """A hit: some retrieved (doc_id, start, end) overlaps the support quote's location."""
    return bool(loc) and any(d == loc[0] and s < loc[2] and e > loc[1] for d, s, e in spans)


def make_questions(gen: CorpusGenerator, dev: list[dict], n: int = 200) -> list[str]:
    """The dev set's questions first, then generated ones, ``n`` (or len(dev)) in all."""
    qs = [r["question"] for r in dev]
    while len(qs) < n:
        qs.append(gen.question())
    return qs
