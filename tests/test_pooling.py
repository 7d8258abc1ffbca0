"""Sentence vectors pooled from the chunk's forward pass (index/pooling.py), and the int8
reader encoder (index/minilm.py quantize_int8)."""

from __future__ import annotations

import numpy as np
import pytest

from ncpi_qa.index.embedding import BUNDLED, LeanMiniLMEmbedder
from ncpi_qa.index.files_store import Store
from ncpi_qa.index.generations import read_manifest
from ncpi_qa.index.plan import sentence_spans
from ncpi_qa.index.store import build_index, is_up_to_date
from ncpi_qa.settings import Settings

SENTENCES = [
    "In 2014, HMICFRS began a national programme of child protection inspections.",
    "These short, focused inspections consider the police response.",
    "Ten forces were visited!",
]
TEXT = "Child protection — Findings\n" + " ".join(SENTENCES)
SPANS = [(TEXT.index(t), TEXT.index(t) + len(t)) for t in SENTENCES]


def quiet(msg):
    pass


def reference_span_means(embedder, text: str, spans) -> np.ndarray:
    """Computed here, from sentence-transformers' token embeddings and the Hugging Face
    tokenizer's offsets, by hand: the normalised mean of the tokens inside each span."""
    model = embedder.model
    states = model.encode([text], output_value="token_embeddings")[0].numpy()
    enc = model.tokenizer(text, return_offsets_mapping=True, truncation=True, max_length=256)
    assert len(enc["input_ids"]) == len(states)
    out = []
    for a, b in spans:
        rows = [i for i, (s, e) in enumerate(enc["offset_mapping"]) if e > s and s < b and e > a]
        v = states[rows].mean(0)
        out.append(v / np.linalg.norm(v))
    return np.array(out)


@pytest.fixture(scope="module")
def embedder32():
    """sentence-transformers in fp32: the hand-computed references below are fp32 (bf16
    against fp32 is tests/test_precision.py's)."""
    from ncpi_qa.index.embedding import get_embedder

    return get_embedder(BUNDLED, precision="fp32")


@pytest.mark.slow
def test_pooled_vectors_match_a_hand_computed_reference(embedder32):
    embedder = embedder32
    want = reference_span_means(embedder, TEXT, SPANS)
    for emb in (LeanMiniLMEmbedder(BUNDLED, precision="fp32"), embedder):
        text_vecs, span_vecs = emb.encode_pooled([TEXT, "kids"], [SPANS, []])
        assert span_vecs.shape == (3, 384) and span_vecs.dtype == np.float32
        assert np.abs(span_vecs - want).max() < 1e-5
        # the chunk's own vector is the ordinary sentence-transformers one
        assert np.abs(text_vecs - embedder.encode([TEXT, "kids"])).max() < 1e-5


@pytest.mark.slow
def test_a_span_past_the_window_is_encoded_on_its_own(embedder32):
    long = "word " * 400 + "The last sentence is past the window."
    span = (len(long) - 37, len(long))
    assert long[span[0] : span[1]] == "The last sentence is past the window."
    _, vecs = LeanMiniLMEmbedder(BUNDLED, precision="fp32").encode_pooled([long], [[span]])
    want = embedder32.encode(["The last sentence is past the window."])
    assert np.abs(vecs - want).max() < 1e-5


class PoolingFake:
    """A hashing embedder with encode_pooled: a span's vector is its text's own vector."""

    def __init__(self):
        from .fakes import HashingEmbedder

        self.inner = HashingEmbedder()
        self.name, self.dim = self.inner.name, self.inner.dim
        self.pooled_texts = 0

    def encode(self, texts, progress=False):
        return self.inner.encode(texts)

    def encode_pooled(self, texts, spans):
        self.pooled_texts += len(texts)
        parts = [t[a:b] for t, sp in zip(texts, spans, strict=True) for a, b in sp]
        return self.inner.encode(texts), self.inner.encode(parts)


def test_pooled_build_reads_each_chunk_once(fixture_corpus, tmp_path):
    fake = PoolingFake()
    s = Settings(corpus_dir=fixture_corpus, store_dir=tmp_path / "store", sentence_vectors="pooled")
    report = build_index(s, embedder=fake, log=quiet)
    store = Store.load(s.store_dir)
    assert report.texts_embedded == fake.pooled_texts == len(store.chunks)
    assert fake.inner.calls == 2 * -(-len(store.chunks) // 512)  # no per-sentence encode
    for i, c in enumerate(store.chunks):
        text = store.documents[c.doc_id].text
        spans = sentence_spans(c)
        assert [c.embed_text()[a:b] for a, b in spans] == [text[a:b] for a, b in c.sentences]
        got = np.asarray(store.sentence_vectors_for([i])[0])
        want = fake.inner.encode([text[a:b] for a, b in c.sentences])
        assert np.allclose(got, want, atol=1e-6)


def test_changing_the_setting_rebuilds(fixture_corpus, tmp_path, fake_embedder):
    s = Settings(corpus_dir=fixture_corpus, store_dir=tmp_path / "store", sentence_vectors="pooled")
    build_index(s, embedder=PoolingFake(), log=quiet)
    assert read_manifest(s.store_dir).chunking["sentence_vectors"] == "pooled"
    assert is_up_to_date(s, fake_embedder.name)[0]
    sep = s.model_copy(update={"sentence_vectors": "separate"})
    assert not is_up_to_date(sep, fake_embedder.name)[0]
    report = build_index(sep, embedder=fake_embedder, log=quiet)
    chunking = read_manifest(s.store_dir).chunking
    assert report.reused == [] and chunking["sentence_vectors"] == "separate"


@pytest.mark.slow
def test_int8_encoder_stays_close_to_fp32():
    import torch

    from ncpi_qa.index.embedding import model_path
    from ncpi_qa.index.minilm import MiniLMEncoder

    fp32, int8 = MiniLMEncoder(model_path(BUNDLED)), MiniLMEncoder(model_path(BUNDLED))
    int8.quantize_int8()
    assert int8.int8 and all(
        type(m).__module__.startswith("torch.ao.nn.quantized") for m in int8.int8.values()
    )
    texts = [TEXT, "How many inspections does the 2019 report draw on?", "kids"]
    a, b = fp32.encode(texts), int8.encode(texts)
    cos = (a * b).sum(1)  # of fp32 and int8 sentence vectors: close, not equal (measured
    assert cos.min() > 0.9 and cos.mean() > 0.95  # 0.94-0.98 here, per-batch activation scales)
    with torch.inference_mode():
        ids = torch.tensor([[101, 2129, 2116, 102]])
        h32 = fp32.hidden_states(ids, torch.ones_like(ids))
        h8 = int8.hidden_states(ids, torch.ones_like(ids))
    cos = torch.nn.functional.cosine_similarity(h32, h8, dim=-1)
    assert cos.min() > 0.9


@pytest.mark.slow
def test_int8_reader_reads_like_fp32():
    from ncpi_qa.qa.reader import Reader

    items = [
        ("Findings", "", "In 2014, HMICFRS began a national programme of inspections."),
        ("Findings", "In 2014, HMICFRS began a programme.", "Ten forces were visited."),
        ("Method", "", "The inspectors read case files and met staff."),
    ]
    q = "When did HMICFRS begin its inspections?"
    a, b = Reader(int8=False).read(q, items), Reader(int8=True).read(q, items)
    for x, y in zip(a, b, strict=True):  # the same span, give or take a token at an end
        assert x.span is not None and y.span is not None
        assert max(x.span[0], y.span[0]) < min(x.span[1], y.span[1])
    assert max(abs(x.logit - y.logit) for x, y in zip(a, b, strict=True)) < 0.5
    assert np.argmax([r.logit for r in a]) == np.argmax([r.logit for r in b]) == 0
