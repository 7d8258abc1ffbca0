"""BM25 on disk (bm25s) and the one tokenizer every backend shares: English stop words removed,
Snowball-stemmed. Milvus is given these tokens too, so both backends score the same terms."""

from __future__ import annotations

from pathlib import Path


def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def bm25_tokens(texts: list[str]) -> list[list[str]]:
    import bm25s

    return bm25s.tokenize(
        texts, stopwords="en", stemmer=_stemmer(), show_progress=False, return_ids=False
    )


def build_bm25(texts: list[str], path: Path) -> None:
    import bm25s

    index = bm25s.BM25()
    index.index(bm25_tokens(texts), show_progress=False)
    index.save(str(path), show_progress=False)


def load_bm25(path: Path):
    import bm25s

    return bm25s.BM25.load(str(path), show_progress=False)


def bm25s_search(bm25, question: str, n: int) -> list[tuple[int, float]]:
    """(chunk index, BM25 score) of the best ``n`` chunks holding a term of ``question``."""
    vocab = bm25.vocab_dict
    q = [t for t in bm25_tokens([question])[0] if t in vocab]
    if not q or n <= 0:
        return []
    ids, scores = bm25.retrieve([q], k=n, show_progress=False, n_threads=0)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if s > 0]


def bm25s_document_frequencies(bm25) -> dict[str, int]:
    """Chunks holding each term, read from a bm25s index's sparse matrix."""
    import numpy as np

    df = np.diff(np.asarray(bm25.scores["indptr"]))
    return {t: int(df[i]) for t, i in bm25.vocab_dict.items() if i < len(df)}


def document_frequencies(token_lists: list[list[str]]) -> dict[str, int]:
    """Chunks holding each term, counted from the tokens themselves (what bm25s stores)."""
    df: dict[str, int] = {}
    for tokens in token_lists:
        for t in set(tokens):
            df[t] = df.get(t, 0) + 1
    return df
