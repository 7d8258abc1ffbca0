"""Fusion (linear and reciprocal rank) and the retrieval modes."""

from __future__ import annotations

import pytest

from ncpi_qa.index.files_store import Store
from ncpi_qa.qa.retrieve import Retriever, fuse_linear, rrf


def test_rrf_sums_reciprocal_ranks():
    fused = dict(rrf([[1, 2, 3], [3, 1]], k=60))
    assert fused[1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[3] == pytest.approx(1 / 63 + 1 / 61)
    assert fused[2] == pytest.approx(1 / 62)
    assert [i for i, _ in rrf([[1, 2, 3], [3, 1]], k=60)] == [1, 3, 2]


def test_rrf_item_in_both_lists_beats_top_of_one():
    order = [i for i, _ in rrf([[10, 20], [20, 30]], k=60)]
    assert order[0] == 20


def test_rrf_ties_break_by_id_whatever_the_list_order():
    assert rrf([[2], [1]]) == rrf([[1], [2]]) == [(1, 1 / 61), (2, 1 / 61)]
    assert [i for i, _ in rrf([[5, 9], [9, 5]])] == [5, 9]  # equal sums


@pytest.fixture
def retriever(fake_index, fake_embedder):
    return Retriever(Store.load(fake_index.store_dir), fake_embedder, dense_weight=0.5)


def _search(retriever, q, k=3, mode="hybrid"):
    return retriever.search(q, retriever.embed_query(q), k, mode=mode)


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid", "rrf"])
def test_modes_find_the_custody_page(retriever, mode):
    hits = _search(retriever, "children detained overnight in custody", mode=mode)
    top = retriever.store.chunks[hits[0].chunk_index]
    assert top.doc_id == "riverside-inspection" and top.page == 2
    assert len(hits) <= 3 and hits[0].chunk_id == top.chunk_id and hits[0].text == top.text


def test_hybrid_records_both_ranks_and_every_mode_ranking(retriever):
    q = "children detained overnight in custody"
    hits, rankings = retriever.retrieve(q, retriever.embed_query(q), 3)
    assert hits[0].dense_rank is not None and hits[0].bm25_rank is not None
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert set(rankings) == {"dense", "bm25", "rrf", "hybrid"}
    assert rankings["hybrid"][:3] == [h.chunk_index for h in hits]


def test_linear_fusion_weighs_cosine_against_relative_bm25():
    dense, bm25 = {1: 0.9, 2: 0.2}, {2: 10.0, 3: 5.0}
    assert [i for i, _ in fuse_linear(dense, bm25, 1.0)] == [1, 2, 3]
    assert [i for i, _ in fuse_linear(dense, bm25, 0.0)] == [2, 3, 1]
    mixed = dict(fuse_linear(dense, bm25, 0.5))
    assert mixed[2] == pytest.approx(0.5 * 0.2 + 0.5 * 1.0)
    assert mixed[3] == pytest.approx(0.5 * 0.5) and mixed[1] == pytest.approx(0.45)


def test_bm25_unknown_words_return_nothing(retriever):
    assert _search(retriever, "zzzzqx wwwwy", mode="bm25") == []


def test_unknown_mode_rejected(retriever):
    with pytest.raises(ValueError):
        _search(retriever, "x", mode="magic")
