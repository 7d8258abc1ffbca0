"""The MLP that scores candidate sentences, fitted with SQuAD 2.0's "no answer" option: a
softmax over [no answer, candidate 1, ..., candidate n] whose target is the sentence(s) that
hold the answer, or "no answer" when none of the candidates does."""

from __future__ import annotations

import numpy as np

from ncpi_qa.qa.model import MLP

SEED = 20261130


def pad(xs, ys, width: int, mask_cols=()):
    m = max((len(x) for x in xs), default=1) or 1
    X = np.zeros((len(xs), m, width), np.float32)
    Y = np.zeros((len(xs), m), np.float32)
    M = np.zeros((len(xs), m), bool)
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        X[i, : len(x)], Y[i, : len(y)], M[i, : len(x)] = x, y, True
    if mask_cols:
        X[:, :, list(mask_cols)] = 0.0
    return X, Y, M


def fit_mlp(
    xs, ys, features: tuple[str, ...], hidden=(64, 32), epochs=60, lr=2e-3, drop=(), log=print
) -> tuple[MLP, float]:
    """The fitted MLP and its no-answer score. ``drop``: features held at zero (ablation)."""
    import torch

    torch.manual_seed(SEED)
    cols = [features.index(f) for f in drop]
    X, Y, M = pad(xs, ys, len(features), cols)
    flat = X[M]
    mean, scale = flat.mean(0), flat.std(0) + 1e-6
    if cols:
        mean[cols], scale[cols] = 0.0, 1.0
    Xt = torch.tensor((X - mean) / scale)
    Xt[~torch.tensor(M)] = 0
    Yt, Mt = torch.tensor(Y), torch.tensor(M)
    dims = (len(features), *hidden, 1)
    layers = []
    for a, b in zip(dims, dims[1:], strict=False):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers[:-1])
    null = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([*net.parameters(), null], lr=lr, weight_decay=1e-4)
    n = len(xs)
    g = torch.Generator().manual_seed(SEED)
    for epoch in range(epochs):
        perm = torch.randperm(n, generator=g)
        total = 0.0
        for i in range(0, n, 256):
            idx = perm[i : i + 256]
            s = net(Xt[idx]).squeeze(-1).masked_fill(~Mt[idx], -1e9)
            allv = torch.cat([null.expand(len(idx), 1), s], dim=1)
            has = Yt[idx].sum(1) > 0
            tgt = torch.cat([(~has).float().unsqueeze(1), Yt[idx]], dim=1)
            good = allv.masked_fill(tgt == 0, -1e9)
            loss = (torch.logsumexp(allv, 1) - torch.logsumexp(good, 1)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        if epoch % 20 == 0 or epoch == epochs - 1:
            log(f"mlp epoch {epoch}: loss {total / n:.4f}")
    lin = [m for m in net if isinstance(m, torch.nn.Linear)]
    mlp = MLP(
        features=tuple(features),
        mean=mean.astype(np.float32),
        scale=scale.astype(np.float32),
        layers=[(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy()) for m in lin],
    )
    return mlp, float(null.detach())
