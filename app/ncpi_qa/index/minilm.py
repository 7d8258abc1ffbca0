"""A lean all-MiniLM-L6-v2 encoder for the query path: tokenizers + torch + safetensors.

Importing sentence-transformers costs ~5 s on this machine (it pulls in scikit-learn and
much of transformers); this module needs ~1.5 s, which is what makes `ncpi-qa ask` start in
a few seconds. It runs the same BERT forward pass with the same weights, tokenizer,
truncation (256 tokens), mean pooling and L2 normalisation, and a test checks that its
vectors match sentence-transformers' to within 1e-5. Indexing keeps using
sentence-transformers (the reference implementation).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np


class MiniLMEncoder:
    def __init__(self, path: Path, max_seq_length: int | None = None, batch_size: int = 32):
        import torch
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        self.torch = torch
        cfg = json.loads((path / "config.json").read_text())
        st_cfg = path / "sentence_bert_config.json"
        if max_seq_length is None:
            max_seq_length = (
                json.loads(st_cfg.read_text()).get("max_seq_length", 256)
                if st_cfg.exists()
                else 256
            )
        self.n_layers = cfg["num_hidden_layers"]
        self.n_heads = cfg["num_attention_heads"]
        self.hidden = cfg["hidden_size"]
        self.eps = cfg.get("layer_norm_eps", 1e-12)
        self.dim = self.hidden
        self.batch_size = batch_size
        self.w = load_file(str(path / "model.safetensors"))
        self.tok = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tok.enable_truncation(max_length=max_seq_length)
        self.tok.enable_padding(pad_id=cfg.get("pad_token_id", 0), pad_token="[PAD]")

    def _layer_norm(self, x, name):
        return self.torch.nn.functional.layer_norm(
            x, (self.hidden,), self.w[f"{name}.weight"], self.w[f"{name}.bias"], self.eps
        )

    def _linear(self, x, name):
        return self.torch.nn.functional.linear(x, self.w[f"{name}.weight"], self.w[f"{name}.bias"])

    def _forward(self, ids, mask):
        x = self.hidden_states(ids, mask)
        m = mask.unsqueeze(-1).to(x.dtype)
        pooled = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return self.torch.nn.functional.normalize(pooled, p=2, dim=1)

    def hidden_states(self, ids, mask, token_types=None):
        """The last layer's hidden states [n, tokens, hidden] (BERT's forward pass)."""
        torch, w = self.torch, self.w
        n, t = ids.shape
        pos = torch.arange(t).unsqueeze(0)
        types = torch.zeros_like(ids) if token_types is None else token_types
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][pos]
            + w["embeddings.token_type_embeddings.weight"][types]
        )
        x = self._layer_norm(x, "embeddings.LayerNorm")
        head = self.hidden // self.n_heads
        bias = (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        for i in range(self.n_layers):
            p = f"encoder.layer.{i}"

            def split(y):
                return y.view(n, t, self.n_heads, head).transpose(1, 2)

            q = split(self._linear(x, f"{p}.attention.self.query"))
            k = split(self._linear(x, f"{p}.attention.self.key"))
            v = split(self._linear(x, f"{p}.attention.self.value"))
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(head) + bias, dim=-1)
            ctx = (att @ v).transpose(1, 2).reshape(n, t, self.hidden)
            x = self._layer_norm(
                x + self._linear(ctx, f"{p}.attention.output.dense"),
                f"{p}.attention.output.LayerNorm",
            )
            h = torch.nn.functional.gelu(self._linear(x, f"{p}.intermediate.dense"))
            x = self._layer_norm(x + self._linear(h, f"{p}.output.dense"), f"{p}.output.LayerNorm")
        return x

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        torch = self.torch
        out = []
        # Sort by length so each batch pads little, as sentence-transformers does.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        with torch.inference_mode():
            for b in range(0, len(order), self.batch_size):
                idx = order[b : b + self.batch_size]
                enc = self.tok.encode_batch([texts[i] for i in idx])
                ids = torch.tensor([e.ids for e in enc], dtype=torch.long)
                mask = torch.tensor([e.attention_mask for e in enc], dtype=torch.long)
                out.append((idx, self._forward(ids, mask).numpy()))
        vecs = np.zeros((len(texts), self.dim), dtype=np.float32)
        for idx, v in out:
            vecs[idx] = v
        return vecs
