"""Plain llama-index code using ncpi-qa: its retriever and query engine over the real index."""

from __future__ import annotations

import pytest

from ncpi_qa.ingest.text import normalize

pytestmark = pytest.mark.slow

Q = "How many inspections does the 2019 report draw on?"


def test_retriever_returns_nodes_with_offsets(shipped_qa):
    from llama_index.core.schema import NodeWithScore, TextNode

    from ncpi_qa.qa.llama import NcpiRetriever

    nodes = NcpiRetriever(shipped_qa, similarity_top_k=3).retrieve(Q)
    assert 1 <= len(nodes) <= 3
    for n in nodes:
        assert isinstance(n, NodeWithScore) and isinstance(n.node, TextNode)
        doc = shipped_qa.store.documents[n.node.metadata["doc_id"]]
        text = doc.text[n.node.start_char_idx : n.node.end_char_idx]
        assert text == n.node.get_content()
        assert n.node.metadata["label"].startswith(doc.title)
    assert [n.score for n in nodes] == sorted((n.score for n in nodes), reverse=True)


def test_query_engine_cites_sentences_and_declines(shipped_qa, shipped_qa_quoting):
    from llama_index.core.base.response.schema import Response

    from ncpi_qa.qa.llama import NcpiQueryEngine

    engine = NcpiQueryEngine(qa=shipped_qa_quoting)
    r = engine.query(Q)
    assert isinstance(r, Response) and not r.metadata["abstained"]
    assert r.metadata["tier"] == "answer"
    assert "64" in r.response and r.source_nodes
    for sn in r.source_nodes:
        node = sn.node
        doc = shipped_qa.store.documents[node.metadata["doc_id"]]
        assert doc.text[node.start_char_idx : node.end_char_idx] == node.get_content()
        assert normalize(node.get_content()) in normalize(r.response)
    off = NcpiQueryEngine(qa=shipped_qa).query("What is the boiling point of mercury in kelvin?")
    # out of scope: the none tier, nothing cited
    assert off.metadata["abstained"] and off.source_nodes == []
    assert off.metadata["tier"] == "none"


JTAI = "What are joint targeted area inspections?"
FOLLOW = "How many reports have been published about them?"
PUBLISHED = (
    "Since 2016, HMICFRS has published 26 reports about our findings from these inspections."
)


def test_retriever_and_query_engine_take_the_conversation(shipped_qa_quoting):
    """A follow-up through llama-index is asked with its history, as QA.ask does: the
    retriever with ``history``, the query engine as a conversation (``remember=True``)."""
    from ncpi_qa.qa.llama import NcpiQueryEngine, NcpiRetriever

    qa = shipped_qa_quoting
    first = qa.ask(JTAI)
    nodes = NcpiRetriever(qa, similarity_top_k=1, history=[first]).retrieve(FOLLOW)
    assert PUBLISHED in nodes[0].node.get_content()
    bare = NcpiRetriever(qa, similarity_top_k=1).retrieve(FOLLOW)
    assert PUBLISHED not in bare[0].node.get_content()
    assert [n.node.node_id for n in NcpiRetriever(qa, history=[first]).retrieve(Q)] == [
        n.node.node_id for n in NcpiRetriever(qa).retrieve(Q)
    ]  # a question that stands alone retrieves as without history

    engine = NcpiQueryEngine(qa=qa, remember=True)
    engine.query(JTAI)
    r = engine.query(FOLLOW)
    assert r.metadata["context"]["questions"] == [JTAI]
    assert any(sn.node.get_content() == PUBLISHED for sn in r.source_nodes)
    assert len(engine.history) == 2
    alone = NcpiQueryEngine(qa=qa).query(FOLLOW)
    assert alone.metadata["context"] is None
    assert not any(sn.node.get_content() == PUBLISHED for sn in alone.source_nodes)
