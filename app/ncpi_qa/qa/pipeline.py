"""The question-answering pipeline shared by the CLI, the chat app and the evals."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from ncpi_qa.errors import EmptyQuestionError, QuestionTooLongError
from ncpi_qa.qa.followup import Context, context_for
from ncpi_qa.qa.question import Profile, analyse
from ncpi_qa.schema import Answer, Turn
from ncpi_qa.settings import Settings


@dataclass(frozen=True)
class FollowupWeights:
    """How much a follow-up's context counts (qa/followup.py). Fitted on the follow-up
    development set over SQuAD fit/calib articles (evals/followups-dev.jsonl), never on the
    sets the figures are reported on (evals/README.md, "Follow-ups")."""

    dense: float = 1.0  # the context's vector, added to the question's before normalising
    chunk_boost: float = 0.10  # fused-score bonus of the passages the previous turn cited
    doc_boost: float = 0.05  # ... and of the other passages of their documents
    reader: str = "subject_last"  # what the reader reads: "question", "previous" (the previous
    # question, then this one), "subject_first" / "subject_last" (the subject's words too)
    subject_terms: bool = True  # the answerer counts the previous subject's words as asked
    max_answer_words: int = 4  # the previous answer is context only when this short
    subject_max: int = 0  # the subject's most specific words (by IDF) the answerer reads; 0: all


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
            threads=settings.ask_threads,
        )
        if settings.abstain_threshold is not None:
            self.model.threshold = settings.abstain_threshold
        self.answerer = Answerer(
            self.store, self.model, settings.max_answer_sentences, reader=reader
        )
        self.followup = FollowupWeights()

    def embed(self, question: str) -> np.ndarray:
        return self.retriever.embed_query(question)

    def ask(
        self,
        question: str,
        k: int | None = None,
        mode: str = "hybrid",
        qvec: np.ndarray | None = None,
        history: list[Turn | Answer] | None = None,
    ) -> Answer:
        """Answer ``question``; ``history``: the earlier turns, oldest first (``Turn``s or
        ``Answer``s). A question that leans on them is searched with the previous turn as
        context (qa/followup.py); one that stands on its own is answered exactly as without
        history."""
        q = validate_question(question, self.settings)
        t0 = time.perf_counter()
        context, profile, qvec, passages, rankings = self._retrieve(q, k, mode, qvec, history)
        t1 = time.perf_counter()
        answer = self.answerer.answer(profile, qvec, passages)
        answer.rankings = rankings
        if context is not None:
            answer.question = q
            answer.context = context.public()
        t2 = time.perf_counter()
        answer.timings_ms = {
            "retrieve": round((t1 - t0) * 1000, 2),
            "answer": round((t2 - t1) * 1000, 2),
            "total": round((t2 - t0) * 1000, 2),
        }
        return answer

    def search(
        self,
        question: str,
        k: int | None = None,
        mode: str = "hybrid",
        history: list[Turn | Answer] | None = None,
    ):
        """The passages ``ask`` would read (a follow-up's with its context), without reading
        them: the llama-index retriever's way in."""
        q = validate_question(question, self.settings)
        return self._retrieve(q, k, mode, None, history)[3]

    def _retrieve(self, q: str, k, mode: str, qvec, history):
        k = k or self.settings.top_k
        w = self.followup
        context = context_for(q, history, max_answer_words=w.max_answer_words) if history else None
        profile = analyse(q)
        qvec = self.embed(q) if qvec is None else qvec
        if context is None:
            passages, rankings = self.retriever.retrieve(q, qvec, k, mode=mode)
            return None, profile, qvec, passages, rankings
        return context, *self._with_context(q, profile, qvec, context, k, mode)

    def _with_context(self, q: str, profile: Profile, qvec, context: Context, k: int, mode):
        """Retrieve and read a follow-up with its context: the question's vector blended with
        the context's, BM25 with the context's words too, the passages the previous turn
        cited (and their documents) ranked a little higher."""
        w = self.followup
        vec = qvec + w.dense * self.embed(context.text)
        vec = (vec / (np.linalg.norm(vec) or 1.0)).astype(np.float32)
        n = max(self.retriever.candidate_k, k)
        passages, rankings = self.retriever.retrieve(f"{q} {context.words}", vec, n, mode=mode)
        cited, docs = set(context.chunk_ids), set(context.doc_ids)
        for p in passages:
            p.score += w.chunk_boost * (p.chunk_id in cited) + w.doc_boost * (p.doc_id in docs)
        passages = sorted(passages, key=lambda p: -p.score)[:k]
        pairs = list(zip(context.subject, context.subject_words, strict=True))
        if w.subject_max and len(pairs) > w.subject_max:  # the most specific words
            idf = self.answerer.stats.idf
            keep = set(sorted(pairs, key=lambda p: -idf(p[0]))[: w.subject_max])
            pairs = [p for p in pairs if p in keep]
        subject = " ".join(word for _, word in pairs)
        text = {
            "previous": f"{context.questions[0]} {q}",
            "subject_first": f"{subject}: {q}",
            "subject_last": f"{q} ({subject})",
        }.get(w.reader, q)
        if w.subject_terms:
            extra = {s: word for s, word in pairs if s not in profile.words}
            profile = replace(
                profile,
                text=text,
                terms=profile.terms + tuple(extra),
                words={**profile.words, **extra},
            )
        else:
            profile = replace(profile, text=text)
        return profile, vec, passages, rankings
