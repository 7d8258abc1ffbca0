"""A MiniLM cross-encoder: reads the question and one candidate sentence together and scores
whether the sentence answers it. Fine-tuned here from all-MiniLM-L6-v2's weights on the SQuAD
2.0 train file (tools/train/fit_reranker.py); the weights ship as float16 safetensors in
``weights/reranker.safetensors`` and run on the CPU with the lean BERT forward pass of
index/minilm.py (no sentence-transformers import on the ask path).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ncpi_qa.errors import AnswererWeightsError

RERANKER = Path(__file__).with_name("weights") / "reranker.safetensors"
MAX_TOKENS = 128


class CrossEncoder:
    def __init__(self, path: Path | None = None, base: Path | None = None) -> None:
        import torch
        from safetensors.torch import load_file

        from ncpi_qa.index.embedding import BUNDLED, model_path
        from ncpi_qa.index.minilm import MiniLMEncoder

        path = Path(path or RERANKER)
        if not path.exists():
            raise AnswererWeightsError(
                f"the reranker's weights ({path}) are missing: run `make train` to rebuild them"
            )
        self.torch = torch
        self.enc = MiniLMEncoder(base or model_path(BUNDLED), max_seq_length=MAX_TOKENS)
        weights = {k: v.float() for k, v in load_file(str(path)).items()}
        self.head_w = weights.pop("head.weight")
        self.head_b = weights.pop("head.bias")
        self.enc.w = weights

    def score(self, question: str, sentences: list[str], batch_size: int = 16) -> np.ndarray:
        """One logit per sentence (higher: more likely to hold the answer)."""
        if not sentences:
            return np.zeros(0, dtype=np.float32)
        torch, tok = self.torch, self.enc.tok
        out = []
        with torch.inference_mode():
            for b in range(0, len(sentences), batch_size):
                enc = tok.encode_batch([(question, s) for s in sentences[b : b + batch_size]])
                ids = torch.tensor([e.ids for e in enc], dtype=torch.long)
                mask = torch.tensor([e.attention_mask for e in enc], dtype=torch.long)
                types = torch.tensor([e.type_ids for e in enc], dtype=torch.long)
                cls = self.enc.hidden_states(ids, mask, types)[:, 0]
                out.append((cls @ self.head_w.T + self.head_b)[:, 0].numpy())
        return np.concatenate(out).astype(np.float32)
