"""The llama-index seam: ncpi-qa's chunks as ``TextNode``s, its hybrid retrieval as a
``BaseRetriever`` and its cited, abstaining answers as a query engine.

    from ncpi_qa.qa.llama import NcpiQueryEngine, NcpiRetriever
    qa = QA(get_settings())
    nodes = NcpiRetriever(qa).retrieve("How many inspections ...?")   # list[NodeWithScore]
    response = NcpiQueryEngine(qa=qa).query("How many inspections ...?")
    response.response, response.source_nodes  # the cited sentences, offsets and pages

Nodes carry ``start_char_idx``/``end_char_idx`` into the document text (``ncpi-qa doc``) and
``doc_id``, ``title``, ``section``, ``page`` and ``label`` in their metadata. Imported only by
code that asks for it: the CLI and the app never pay for llama-index's import.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.base.response.schema import Response
from llama_index.core.bridge.pydantic import Field
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from ncpi_qa.schema import Citation, Passage

_HIDDEN = ["doc_id", "chunk_id", "label", "n"]


def _node(id_: str, text: str, start: int, end: int, **metadata) -> TextNode:
    return TextNode(
        id_=id_,
        text=text,
        start_char_idx=start,
        end_char_idx=end,
        metadata=metadata,
        excluded_embed_metadata_keys=_HIDDEN,
        excluded_llm_metadata_keys=_HIDDEN,
    )


def passage_node(p: Passage) -> TextNode:
    """A retrieved chunk as a TextNode (its id is the chunk id: document, page, offsets)."""
    return _node(p.chunk_id, p.text, p.start, p.end, doc_id=p.doc_id, chunk_id=p.chunk_id,
                 title=p.title, section=p.section, page=p.page, label=p.label)  # fmt: skip


def citation_node(c: Citation) -> TextNode:
    """A cited sentence as a TextNode: ``text == document text[start_char_idx:end_char_idx]``."""
    return _node(f"{c.chunk_id} [{c.start}:{c.end}]", c.quote, c.start, c.end, n=c.n,
                 doc_id=c.doc_id, chunk_id=c.chunk_id, title=c.title, section=c.section,
                 page=c.page, label=c.label)  # fmt: skip


class NcpiRetriever(BaseRetriever):
    """Hybrid (dense + BM25) retrieval over the ncpi-qa index, as llama-index nodes.

    ``history``: earlier turns (``Answer``s or ``schema.Turn``s), oldest first;
    a query that leans on them ("When did they start?") is retrieved with the previous turn
    as context, as ``QA.ask(..., history=...)`` does."""

    def __init__(
        self, qa, similarity_top_k: int | None = None, mode: str = "hybrid", history=None
    ) -> None:
        super().__init__()
        self._qa = qa
        self._k = similarity_top_k or qa.settings.top_k
        self._mode = mode
        self.history = list(history or [])

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        passages = self._qa.search(query_bundle.query_str, self._k, self._mode, self.history)
        return [NodeWithScore(node=passage_node(p), score=p.score) for p in passages]


class NcpiQueryEngine(CustomQueryEngine):
    """ncpi-qa's extractive answer: ``response`` is the quoted answer (or the decline),
    ``source_nodes`` the cited sentences; ``metadata`` says whether it declined and, for a
    follow-up, the context it was searched with.

    ``history``: the earlier turns a query may lean on; with ``remember=True`` each answer
    joins it, so successive ``query()`` calls are a conversation (a chat-like use)."""

    qa: Any
    history: list = Field(default_factory=list)
    remember: bool = False

    def custom_query(self, query_str: str) -> Response:
        a = self.qa.ask(query_str, history=self.history)
        if self.remember:
            self.history.append(a)
        return Response(
            response=a.text,
            source_nodes=[NodeWithScore(node=citation_node(c), score=c.score) for c in a.citations],
            metadata={
                "abstained": a.abstained,
                "tier": a.tier,  # answer | closest | none (schema.TIERS)
                "answerability": a.best_score,
                "relevance": a.relevance,
                "passages": [p.chunk_id for p in a.passages],
                "context": None if a.context is None else a.context.model_dump(),
            },
        )
