"""A lean all-MiniLM-L6-v2 encoder for the query path: tokenizers + torch + safetensors.

Importing sentence-transformers costs ~5 s on this machine (it pulls in scikit-learn and
much of transformers); this module needs ~1.5 s, which is what makes `ncpi-qa ask` start in
a few seconds. It runs the same BERT forward pass with the same weights, tokenizer,
truncation (256 tokens), mean pooling and L2 normalisation, and a test checks that its
vectors match sentence-transformers' to within 1e-5. Indexing with pooled sentence vectors
uses it too (``token_states``: one pass per chunk, index/pooling.py); with separately encoded
ones it uses sentence-transformers (the reference implementation).

``precision`` ("fp32", "bf16" or "auto", index/precision.py) chooses the arithmetic of the
forward pass; the attention is torch's fused ``scaled_dot_product_attention``.

``quantize_int8()`` swaps the transformer layers' Linear weights for torch's dynamic int8
ones (weights int8, activations quantised per batch; the reader's ``reader_int8`` setting).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ncpi_qa.index.precision import autocast, resolve


class MiniLMEncoder:
    def __init__(
        self,
        path: Path,
        max_seq_length: int | None = None,
        batch_size: int = 32,
        precision: str = "fp32",
    ):
        import torch
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
        self.precision = resolve(precision)
        self.int8: dict | None = None  # {linear name: dynamic-int8 Linear} after quantize_int8
        self._weights_file, self._w = path / "model.safetensors", None
        self.tok = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tok.enable_truncation(max_length=max_seq_length)
        self.tok.enable_padding(pad_id=cfg.get("pad_token_id", 0), pad_token="[PAD]")

    @property
    def w(self) -> dict:
        """The weights by name, read on first use: the reader sets its own instead, so the
        base model's file is never read for it (a cold start saves the 90 MB read)."""
        if self._w is None:
            from safetensors.torch import load_file

            self._w = load_file(str(self._weights_file))
        return self._w

    @w.setter
    def w(self, weights: dict) -> None:
        self._w = weights

    def _layer_norm(self, x, name):
        return self.torch.nn.functional.layer_norm(
            x, (self.hidden,), self.w[f"{name}.weight"], self.w[f"{name}.bias"], self.eps
        )

    def _linear(self, x, name):
        if self.int8 is not None and name in self.int8:
            return self.int8[name](x)
        return self.torch.nn.functional.linear(x, self.w[f"{name}.weight"], self.w[f"{name}.bias"])

    def quantize_int8(self) -> None:
        """Dynamic int8 quantisation (torch.ao, weights per output channel) of every Linear
        layer of the transformer (the attention projections and the feed-forward); the
        embeddings, LayerNorms and anything the caller keeps outside ``w`` stay fp32. Call
        after ``w`` holds the final weights."""
        import warnings

        torch = self.torch
        names = sorted(k[: -len(".weight")] for k in self.w if k.startswith("encoder.layer."))
        names = [n for n in names if f"{n}.bias" in self.w and self.w[f"{n}.weight"].dim() == 2]
        layers = torch.nn.ModuleDict()
        for n in names:
            weight = self.w[f"{n}.weight"].float()
            lin = torch.nn.Linear(weight.shape[1], weight.shape[0])
            lin.weight.data.copy_(weight)
            lin.bias.data.copy_(self.w[f"{n}.bias"].float())
            layers[n.replace(".", "/")] = lin
        with warnings.catch_warnings():  # torch.ao's deprecation notice (torchao is not here)
            warnings.simplefilter("ignore")
            qconfig = torch.ao.quantization.per_channel_dynamic_qconfig  # closer than per-tensor
            q = torch.ao.quantization.quantize_dynamic(layers, {torch.nn.Linear: qconfig})
        self.int8 = {n: q[n.replace(".", "/")] for n in names}
        self.precision = "fp32"  # torch's dynamic int8 Linear takes fp32 input, not bf16

    def _forward(self, ids, mask):
        x = self.hidden_states(ids, mask)
        m = mask.unsqueeze(-1).to(x.dtype)
        pooled = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return self.torch.nn.functional.normalize(pooled, p=2, dim=1)

    def hidden_states(self, ids, mask, token_types=None):
        """The last layer's hidden states [n, tokens, hidden] (BERT's forward pass), fp32."""
        with autocast(self.precision):
            return self._hidden_states(ids, mask, token_types).float()

    def _hidden_states(self, ids, mask, token_types=None):
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
        keep = mask[:, None, None, :].bool()  # [n, 1, 1, t]: attend to real tokens only
        sdpa = torch.nn.functional.scaled_dot_product_attention
        for i in range(self.n_layers):
            p = f"encoder.layer.{i}"

            def split(y):
                return y.view(n, t, self.n_heads, head).transpose(1, 2)

            q = split(self._linear(x, f"{p}.attention.self.query"))
            k = split(self._linear(x, f"{p}.attention.self.key"))
            v = split(self._linear(x, f"{p}.attention.self.value"))
            ctx = sdpa(q, k, v, attn_mask=keep).transpose(1, 2).reshape(n, t, self.hidden)
            x = self._layer_norm(
                x + self._linear(ctx, f"{p}.attention.output.dense"),
                f"{p}.attention.output.LayerNorm",
            )
            h = torch.nn.functional.gelu(self._linear(x, f"{p}.intermediate.dense"))
            x = self._layer_norm(x + self._linear(h, f"{p}.output.dense"), f"{p}.output.LayerNorm")
        return x

    def _batches(self, texts: list[str]):
        """(indices, encodings, ids, mask) per batch, longest texts first so each batch pads
        little, as sentence-transformers does."""
        torch = self.torch
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for b in range(0, len(order), self.batch_size):
            idx = order[b : b + self.batch_size]
            enc = self.tok.encode_batch([texts[i] for i in idx])
            ids = torch.tensor([e.ids for e in enc], dtype=torch.long)
            mask = torch.tensor([e.attention_mask for e in enc], dtype=torch.long)
            yield idx, enc, ids, mask

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        vecs = np.zeros((len(texts), self.dim), dtype=np.float32)
        with self.torch.inference_mode():
            for idx, _, ids, mask in self._batches(texts):
                vecs[idx] = self._forward(ids, mask).numpy()
        return vecs

    def token_states(self, texts: list[str]):
        """Per batch: the texts' indices, their vectors (as ``encode``), and per text its
        last-layer token states and each token's character offsets in the text (None for
        [CLS], [SEP] and padding): what index/pooling.py pools sentences from."""
        torch = self.torch
        with torch.inference_mode():
            for idx, enc, ids, mask in self._batches(texts):
                h = self.hidden_states(ids, mask)
                m = mask.unsqueeze(-1).to(h.dtype)
                pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
                vecs = torch.nn.functional.normalize(pooled, p=2, dim=1).numpy()
                per_text = [
                    (
                        h[r].numpy(),
                        [
                            o if not special and attend else None
                            for o, special, attend in zip(
                                e.offsets, e.special_tokens_mask, e.attention_mask, strict=True
                            )
                        ],
                    )
                    for r, e in enumerate(enc)
                ]
                yield idx, vecs, per_text
