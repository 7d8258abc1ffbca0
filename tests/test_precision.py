"""The forward passes' arithmetic (index/precision.py): the setting's values, and bf16 giving
the same vectors and the same reading as fp32 to within bf16's rounding, on real text."""

from __future__ import annotations

import numpy as np
import pytest

from ncpi_qa.index import precision
from ncpi_qa.index.embedding import BUNDLED, LeanMiniLMEmbedder, get_embedder

TEXTS = [
    "How many inspections does the 2019 report draw on?",
    "In 2014, HMICFRS began a national programme of child protection inspections.",
    "Her Majesty’s Inspectorate of Probation launched the joint targeted area inspections.",
    "kids",
]
needs_bf16 = pytest.mark.skipif(
    not precision.bf16_in_hardware(), reason="this CPU has no bf16 unit (AMX / AVX-512 BF16)"
)


def test_auto_follows_the_hardware():
    expected = "bf16" if precision.bf16_in_hardware() else "fp32"
    assert precision.resolve("auto") == expected
    assert precision.resolve("fp32") == "fp32" and precision.resolve("bf16") == "bf16"


def test_an_unknown_precision_is_a_clear_error():
    with pytest.raises(ValueError, match="auto, fp32 or bf16"):
        precision.resolve("fp8")


def test_the_setting_picks_the_embedder(monkeypatch):
    """One cached embedder per precision: changing the setting in a process is not ignored."""
    monkeypatch.setenv("NCPI_QA_PRECISION", "fp32")
    a = get_embedder(BUNDLED, 32, lean=True)
    monkeypatch.setenv("NCPI_QA_PRECISION", "bf16")
    b = get_embedder(BUNDLED, 32, lean=True)
    assert a is not b and a.encoder.precision == "fp32" and b.encoder.precision == "bf16"
    assert get_embedder(BUNDLED, 32, lean=True, precision="fp32") is a


@needs_bf16
def test_bf16_vectors_are_fp32_vectors_to_rounding():
    fp32, bf16 = (
        LeanMiniLMEmbedder(BUNDLED, precision="fp32"),
        LeanMiniLMEmbedder(BUNDLED, precision="bf16"),
    )
    a, b = fp32.encode(TEXTS), bf16.encode(TEXTS)
    assert a.dtype == b.dtype == np.float32
    cos = (a * b).sum(1)
    assert cos.min() > 0.9995, cos  # bf16 keeps 8 bits of mantissa; the sums are fp32
    # and they rank the passages for the question the same way
    assert np.argsort(-(a[1:] @ a[0])).tolist() == np.argsort(-(b[1:] @ b[0])).tolist()


@needs_bf16
def test_bf16_reader_reads_as_fp32_does():
    from ncpi_qa.qa.reader import Reader

    question = "When did HMICFRS begin its child protection inspections?"
    items = [
        (
            "Introduction",
            "",
            "In 2014, HMICFRS began a national programme of child protection inspections.",
        ),
        (
            "Introduction",
            "",
            "Her Majesty’s Inspectorate of Probation is one of the inspectorates.",
        ),
        ("Findings", "", "Some forces had improved their handling of missing children."),
    ]
    r32 = Reader(int8=False, precision="fp32").read(question, items)
    r16 = Reader(int8=False, precision="bf16").read(question, items)
    assert [r.span for r in r32] == [r.span for r in r16]
    assert r32[0].span is not None and items[0][2][slice(*r32[0].span)].endswith("2014")
    assert max(abs(a.logit - b.logit) for a, b in zip(r32, r16, strict=True)) < 0.25


def test_another_precision_re_embeds_the_index(fake_index, fake_embedder):
    """The cache and the up-to-date check key on the arithmetic: vectors made in one are not
    served as the other's; the same one again reuses everything."""
    from ncpi_qa.index.store import build_index

    other = "bf16" if precision.resolve(fake_index.precision) == "fp32" else "fp32"
    same = build_index(fake_index, embedder=fake_embedder, log=lambda m: None)
    assert same.up_to_date and same.texts_embedded == 0
    switched = fake_index.model_copy(update={"precision": other})
    again = build_index(switched, embedder=fake_embedder, log=lambda m: None)
    assert not again.up_to_date and again.texts_embedded > 0


def test_threads_are_set_for_the_block_and_restored():
    import torch

    before = torch.get_num_threads()
    with precision.threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with precision.threads(None), precision.threads(0):
        assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), precision.threads(1):
        raise RuntimeError("a failing forward pass still gives the threads back")
    assert torch.get_num_threads() == before
