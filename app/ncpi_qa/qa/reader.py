"""The reader: a MiniLM fine-tuned here, from all-MiniLM-L6-v2's weights, on SQuAD (the whole
train split plus dev articles split off by title; tools/train/train_reader.py).

It reads the question together with one candidate sentence *in its context*: the heading it
sits under and the sentence before it (format "context-v1": ``heading: previous [SEP]
sentence``), so that "These short, focused inspections consider ..." is read as being about
the inspections the sentence before it names. Readers trained before the context was added
(format "heading": ``heading: sentence``) still load: the format is read from the weights'
own metadata. It gives two things: a logit that the sentence answers the question, from the
[CLS] token, and the answer's span inside the sentence, from per-token start/end logits (as a SQuAD
reader does, restricted to the sentence). Weights ship as float16 safetensors in
``weights/reader.safetensors`` and run with the lean BERT forward pass of index/minilm.py, so
the ask path never imports sentence-transformers or transformers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ncpi_qa.errors import AnswererWeightsError
from ncpi_qa.index.precision import resolve, threads

READER = Path(__file__).with_name("weights") / "reader.safetensors"
MAX_TOKENS = 192  # question + heading + previous sentence + sentence; cut at the end
MAX_SPAN_TOKENS = 30
HEADING_CHARS = 80
PREVIOUS_CHARS = 200  # the end of the sentence before, cut at a word boundary
CONTEXT_FORMAT = "context-v1"
LEGACY_FORMAT = "heading"


def _tail(text: str, limit: int) -> str:
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    space = cut.find(" ")
    return "… " + (cut[space + 1 :] if 0 <= space < limit // 2 else cut)


def reader_text(
    heading: str, sentence: str, previous: str = "", fmt: str = CONTEXT_FORMAT
) -> tuple[str, int]:
    """The second segment the reader sees, and where the sentence starts in it."""
    heading = " ".join((heading or "").split())[:HEADING_CHARS]
    if fmt == LEGACY_FORMAT:
        prefix = f"{heading}: " if heading else ""
    else:
        prev = _tail(previous, PREVIOUS_CHARS)
        prefix = " ".join(x for x in (f"{heading}:" if heading else "", prev, "[SEP]") if x) + " "
    return prefix + sentence, len(prefix)


def make_tokenizer(base: Path):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(base / "tokenizer.json"))
    tok.enable_truncation(max_length=MAX_TOKENS, strategy="only_second")
    tok.no_padding()
    return tok


def sentence_token_mask(enc, offset: int) -> np.ndarray:
    """True for the tokens of the second segment that lie in the sentence (not the heading)."""
    seq = enc.sequence_ids
    return np.array(
        [s == 1 and o[1] > offset for s, o in zip(seq, enc.offsets, strict=True)], dtype=bool
    )


@dataclass(frozen=True)
class Reading:
    """The reader's view of one candidate: ``logit`` that it answers; the best span as
    character offsets into the sentence (None when no span was found) and its logit."""

    logit: float
    span: tuple[int, int] | None
    span_logit: float


def best_span(start: np.ndarray, end: np.ndarray, ok: np.ndarray, max_len: int = MAX_SPAN_TOKENS):
    """(i, j, score) maximising start[i] + end[j] with i <= j < i + max_len, both in ``ok``."""
    idx = np.flatnonzero(ok)
    if not len(idx):
        return None
    s, e = start[idx], end[idx]
    scores = s[:, None] + e[None, :]
    pos = idx[None, :] - idx[:, None]
    scores = np.where((pos >= 0) & (pos < max_len), scores, -np.inf)
    a, b = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return int(idx[a]), int(idx[b]), float(scores[a, b])


class Reader:
    def __init__(
        self,
        path: Path | None = None,
        base: Path | None = None,
        int8: bool | None = None,
        precision: str | None = None,
        threads: int | None = None,
    ) -> None:
        import torch
        from safetensors.torch import load_file

        from ncpi_qa.index.embedding import BUNDLED, model_path
        from ncpi_qa.index.minilm import MiniLMEncoder
        from ncpi_qa.settings import get_settings

        path = Path(path or READER)
        if not path.exists():
            raise AnswererWeightsError(
                f"the reader's weights ({path}) are missing: run `make train` to rebuild them"
            )
        base = base or model_path(BUNDLED)
        self.path = path
        self.torch = torch
        settings = get_settings()
        self.enc = MiniLMEncoder(
            base, max_seq_length=MAX_TOKENS, precision=precision or settings.precision
        )
        self.tok = make_tokenizer(base)
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        self.format = meta.get("reader_format", LEGACY_FORMAT)
        weights = {k: v.float() for k, v in load_file(str(path)).items()}
        self.cls_w, self.cls_b = weights.pop("cls.weight"), weights.pop("cls.bias")
        self.span_w, self.span_b = weights.pop("span.weight"), weights.pop("span.bias")
        self.enc.w = weights
        self.threads = settings.ask_threads if threads is None else threads
        if settings.reader_int8 if int8 is None else int8:
            self.enc.quantize_int8()

    def read(
        self, question: str, items: list[tuple[str, str, str]], batch_size: int = 16
    ) -> list[Reading]:
        """One Reading per (heading, previous sentence, sentence)."""
        if not items:
            return []
        torch = self.torch
        texts = [reader_text(h, s, prev, self.format) for h, prev, s in items]
        encs = self.tok.encode_batch([(question, t) for t, _ in texts])
        out: list[Reading | None] = [None] * len(items)
        order = sorted(range(len(items)), key=lambda i: -len(encs[i].ids))
        with torch.inference_mode(), threads(self.threads):
            for b in range(0, len(order), batch_size):
                idx = order[b : b + batch_size]
                width = max(len(encs[i].ids) for i in idx)
                ids = torch.zeros((len(idx), width), dtype=torch.long)
                types = torch.zeros_like(ids)
                mask = torch.zeros_like(ids)
                for r, i in enumerate(idx):
                    n = len(encs[i].ids)
                    ids[r, :n] = torch.tensor(encs[i].ids)
                    types[r, :n] = torch.tensor(encs[i].type_ids)
                    mask[r, :n] = 1
                h = self.enc.hidden_states(ids, mask, types)
                cls = (h[:, 0] @ self.cls_w.T + self.cls_b)[:, 0].numpy()
                se = (h @ self.span_w.T + self.span_b).numpy()
                for r, i in enumerate(idx):
                    out[i] = self._reading(encs[i], texts[i][1], float(cls[r]), se[r])
        return out  # type: ignore[return-value]

    @staticmethod
    def _reading(enc, offset: int, logit: float, se: np.ndarray) -> Reading:
        n = len(enc.ids)
        ok = sentence_token_mask(enc, offset)
        found = best_span(se[:n, 0], se[:n, 1], ok)
        if found is None:
            return Reading(logit, None, float("-inf"))
        i, j, score = found
        s = max(enc.offsets[i][0], offset) - offset
        e = enc.offsets[j][1] - offset
        return Reading(logit, (s, e) if e > s else None, score)


def shared_reader(path: Path = READER) -> Reader:
    """One Reader per weights file (and precision) for the process: a QA rebuilt after an
    index switch (the chat does that after every upload) reuses it instead of loading the
    weights again."""
    from ncpi_qa.settings import get_settings

    s = get_settings()
    return _shared_reader(Path(path), resolve(s.precision), s.reader_int8, s.ask_threads)


@lru_cache(maxsize=2)
def _shared_reader(path: Path, precision: str, int8: bool, threads: int) -> Reader:
    return Reader(path, int8=int8, precision=precision, threads=threads)
