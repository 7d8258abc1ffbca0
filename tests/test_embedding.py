"""Real embedders: offline loading; the lean query encoder matches sentence-transformers."""

from __future__ import annotations

import numpy as np
import pytest

from ncpi_qa.errors import ModelNotAvailableError
from ncpi_qa.index.embedding import (
    BUNDLED,
    LeanMiniLMEmbedder,
    SentenceTransformerEmbedder,
    _is_bert_folder,
    get_query_embedder,
    model_path,
)

TEXTS = [
    "How many inspections does the 2019 report draw on?",
    "kids",
    "Her Majesty’s Inspectorate of Probation launched the joint targeted area inspections (JTAI).",
    "In 2014, HMICFRS began a national programme of child protection inspections. " * 30,
    "",
]


@pytest.mark.slow
def test_lean_encoder_matches_sentence_transformers():
    """The same forward pass, both in fp32 (bf16 against fp32: tests/test_precision.py)."""
    lean = LeanMiniLMEmbedder(BUNDLED, precision="fp32")
    embedder = SentenceTransformerEmbedder(BUNDLED, precision="fp32")
    assert lean.name == embedder.name and lean.dim == embedder.dim == 384
    a, b = lean.encode(TEXTS), embedder.encode(TEXTS)
    assert a.shape == b.shape == (len(TEXTS), 384) and a.dtype == np.float32
    assert np.abs(a - b).max() < 1e-5  # long text: both truncate at 256 tokens
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)


def test_bundled_model_is_a_local_bert_folder():
    path = model_path(BUNDLED)
    assert (path / "model.safetensors").exists()
    assert _is_bert_folder(path)
    assert isinstance(get_query_embedder(BUNDLED), LeanMiniLMEmbedder)


def test_unknown_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelNotAvailableError, match="hub downloads are off"):
        model_path("some-org/some-model")
    assert not _is_bert_folder(tmp_path)
