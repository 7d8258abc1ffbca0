"""The question-answering pipeline shared by the CLI, the chat app and the evals."""

from __future__ import annotations

import time

import numpy as np

from ncpi_qa.errors import EmptyQuestionError, QuestionTooLongError
from ncpi_qa.qa.question import analyse
from ncpi_qa.schema import Answer
from ncpi_qa.settings import Settings


def validate_question(question: str | None, settings: Settings) -> str:
    q = (question or "").strip()
    if not q:
        raise EmptyQuestionError()
    if len(q) > settings.max_question_chars:
        raise QuestionTooLongError(len(q), settings.max_question_chars)
    return q


class QA:
    """Loads the index and the models once; ``ask`` answers one question.

    One way through: question -> Profile -> retrieve (the question embedded once) ->
    candidates -> decide -> Answer. The CLI, the chat app and the evals all call ``ask``.
    """

    def __init__(
        self, settings: Settings, store=None, embedder=None, model=None, reader=None
    ) -> None:
        from ncpi_qa.index.backend import open_store
        from ncpi_qa.qa.answer import Answerer
        from ncpi_qa.qa.model import load_model
        from ncpi_qa.qa.retrieve import Retriever

        self.settings = settings
        self.store = store if store is not None else open_store(settings)
        if embedder is None:
            from ncpi_qa.index.embedding import get_query_embedder

            embedder = get_query_embedder(
                settings.embedding_model, settings.embed_batch_size, settings.lean_query_encoder
            )
        self.embedder = embedder
        self.model = model if model is not None else load_model(settings.answerer_weights)
        fusion = self.model.meta.get("fusion_dense_weight", 0.5)
        self.retriever = Retriever(
            self.store,
            embedder,
            settings.candidate_k,
            settings.rrf_k,
            dense_weight=settings.fusion_dense_weight
            if settings.fusion_dense_weight is not None
            else fusion,
        )
        if settings.abstain_threshold is not None:
            self.model.threshold = settings.abstain_threshold
        self.answerer = Answerer(
            self.store, self.model, settings.max_answer_sentences, reader=reader
        )

    def embed(self, question: str) -> np.ndarray:
        return self.retriever.embed_query(question)

    def ask(
        self,
        question: str,
        k: int | None = None,
        mode: str = "hybrid",
        qvec: np.ndarray | None = None,
    ) -> Answer:
        q = validate_question(question, self.settings)
        k = k or self.settings.top_k
        t0 = time.perf_counter()
        profile = analyse(q)
        qvec = self.embed(q) if qvec is None else qvec
        passages, rankings = self.retriever.retrieve(q, qvec, k, mode=mode)
        t1 = time.perf_counter()
        answer = self.answerer.answer(profile, qvec, passages)
        answer.rankings = rankings
        t2 = time.perf_counter()
        answer.timings_ms = {
            "retrieve": round((t1 - t0) * 1000, 2),
            "answer": round((t2 - t1) * 1000, 2),
            "total": round((t2 - t0) * 1000, 2),
        }
        return answer
