"""The question-answering pipeline shared by the CLI, the chat app and the evals."""

from __future__ import annotations

import time

from ncpi_qa.errors import EmptyQuestionError, QuestionTooLongError
from ncpi_qa.schema import Answer, Citation, Passage
from ncpi_qa.settings import Settings


def validate_question(question: str | None, settings: Settings) -> str:
    q = (question or "").strip()
    if not q:
        raise EmptyQuestionError()
    if len(q) > settings.max_question_chars:
        raise QuestionTooLongError(len(q), settings.max_question_chars)
    return q


class QA:
    """Loads the index and the model once; ``ask`` answers one question."""

    def __init__(self, settings: Settings, store=None, embedder=None) -> None:
        from ncpi_qa.index.store import Store
        from ncpi_qa.qa.answer import ExtractiveAnswerer
        from ncpi_qa.qa.retrieve import Retriever

        self.settings = settings
        self.store = store if store is not None else Store.load(settings.store_dir)
        if embedder is None:
            from ncpi_qa.index.embedding import get_query_embedder

            embedder = get_query_embedder(
                settings.embedding_model, settings.embed_batch_size, settings.lean_query_encoder
            )
        self.embedder = embedder
        self.retriever = Retriever(self.store, embedder, settings.candidate_k, settings.rrf_k)
        self.answerer = ExtractiveAnswerer(
            self.store, settings.abstain_threshold, settings.max_answer_sentences, embedder=embedder
        )

    def ask(self, question: str, k: int | None = None, mode: str = "hybrid") -> Answer:
        q = validate_question(question, self.settings)
        k = k or self.settings.top_k
        t0 = time.perf_counter()
        qvec = self.retriever.embed_query(q)
        hits = self.retriever.search(q, k, mode=mode, qvec=qvec)
        t1 = time.perf_counter()
        result = self.answerer.answer(q, qvec, [h.index for h in hits])
        t2 = time.perf_counter()
        chunk_sims = self.store.chunk_vectors[[h.index for h in hits]] @ qvec if hits else []
        passages = []
        for h, sim in zip(hits, chunk_sims, strict=True):
            c = self.store.chunks[h.index]
            passages.append(
                Passage(
                    chunk_index=h.index,
                    chunk_id=c.chunk_id,
                    doc_id=c.doc_id,
                    title=c.title,
                    section=c.section,
                    page=c.page,
                    start=c.start,
                    end=c.end,
                    text=c.text,
                    score=h.score,
                    dense=float(sim),
                    bm25=h.bm25,
                    dense_rank=h.dense_rank,
                    bm25_rank=h.bm25_rank,
                )
            )
        return Answer(
            question=q,
            text=result["answer"],
            abstained=result["abstained"],
            citations=[Citation(**c) for c in result["citations"]],
            passages=passages,
            best_score=result.get("best_score"),
            threshold=self.answerer.threshold,
            timings_ms={
                "retrieve": round((t1 - t0) * 1000, 2),
                "answer": round((t2 - t1) * 1000, 2),
                "total": round((t2 - t0) * 1000, 2),
            },
        )
