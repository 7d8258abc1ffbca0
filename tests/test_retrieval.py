"""Reciprocal rank fusion and the three retrieval modes."""

from __future__ import annotations

import pytest

from ncpi_qa.index.store import Store
from ncpi_qa.qa.retrieve import Retriever, rrf


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
    return Retriever(Store.load(fake_index.store_dir), fake_embedder)


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_modes_find_the_custody_page(retriever, mode):
    hits = retriever.search("children detained overnight in custody", 3, mode=mode)
    top = retriever.store.chunks[hits[0].index]
    assert top.doc_id == "riverside-inspection" and top.page == 2
    assert len(hits) <= 3


def test_hybrid_records_both_ranks(retriever):
    hits = retriever.search("children detained overnight in custody", 3)
    assert hits[0].dense_rank is not None and hits[0].bm25_rank is not None
    assert hits == sorted(hits, key=lambda h: -h.score)


def test_bm25_unknown_words_return_nothing(retriever):
    assert retriever.search("zzzzqx wwwwy", 3, mode="bm25") == []


def test_unknown_mode_rejected(retriever):
    with pytest.raises(ValueError):
        retriever.search("x", 3, mode="magic")
