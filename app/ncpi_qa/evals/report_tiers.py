"""The tiers in the eval's text table and HTML report: what each tier promised, by kind of
question, and the risk-coverage curve (evals/promise.py)."""

from __future__ import annotations

import html

PROMISE_KEYS = (
    ("asserted_precision", "of what the answer tier asserts, the share right (all kinds)"),
    ("answer_tier_coverage", "answerable questions answered right in the answer tier"),
    ("right_first", "answerable questions whose first shown sentence holds the answer"),
    ("forced_right", "answerable questions whose best sentence holds the answer (forced)"),
    ("lookalike_asserted", "look-alikes put in the answer tier (lower is better)"),
    ("oos_in_none", "out-of-scope questions given the none tier"),
    (
        "auc_answerable_vs_lookalike",
        "P(an answerable question is more confident than a look-alike)",
    ),
    ("aurc", "area under the risk-coverage curve (lower is better)"),
    ("coverage_at_90", "answerable answered right at the best threshold with precision >= 0.90"),
    ("coverage_at_95", "... with precision >= 0.95"),
)


def _fmt(v) -> str:
    return "n/a" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def tier_lines(result: dict) -> list[str]:
    """The text table's lines for the tiers."""
    if "tiers" not in result:
        return []
    gates = result.get("gate") or {}
    lines = ["", f"  tiers (answer >= {_fmt(result.get('threshold'))} on confidence)"]
    for key, _ in PROMISE_KEYS:
        if result.get(key) is not None:
            gate = f"  (gate >= {gates[key]:.2f})" if key in gates else ""
            lines.append(f"  {key:<24}{_fmt(result.get(key)):>8}{gate}")
    lines.append(f"  {'kind':<14}{'answer':>8}{'closest':>9}{'none':>6}")
    for kind, t in result["tiers"].items():
        lines.append(f"  {kind:<14}{t['answer']:>8}{t['closest']:>9}{t['none']:>6}")
    return lines


def tiers_html(result: dict, plt, png) -> str:
    """The report's tier section: the promise figures, the tiers by kind, the curve."""
    if "tiers" not in result:
        return ""
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td class=num>{_fmt(result.get(k))}</td>"
        f"<td>{html.escape(d)}</td></tr>"
        for k, d in PROMISE_KEYS
        if k in result
    )
    by_kind = "".join(
        f"<tr><td>{html.escape(k)}</td>"
        + "".join(f"<td class=num>{t[x]}</td>" for x in ("answer", "closest", "none"))
        + "</tr>"
        for k, t in result["tiers"].items()
    )
    return (
        "<h2>Tiers: what each promises</h2>"
        f"<table><tr><th>figure</th><th>value</th><th>meaning</th></tr>{rows}</table>"
        "<h3>Tier given, by kind of question</h3>"
        "<table><tr><th>kind</th><th>answer</th><th>closest</th><th>none</th></tr>"
        f"{by_kind}</table>{_risk_coverage_plot(result, plt, png)}"
    )


def _risk_coverage_plot(result: dict, plt, png) -> str:
    fig, ax = plt.subplots(figsize=(6.5, 4))
    curve = result.get("risk_coverage") or []
    pts = [p for p in curve if p.get("coverage") is not None]
    if pts:
        ax.plot([p["coverage"] for p in pts], [p["precision"] for p in pts], marker=".")
        for level in (0.9, 0.95):
            ax.axhline(level, color="#999", linewidth=0.8, linestyle="--")
        t = result.get("threshold")
        at = [p for p in pts if t is not None and p["threshold"] >= t]
        if at:
            ax.plot(at[-1]["coverage"], at[-1]["precision"], "o", color="black")
            ax.annotate("answer threshold", (at[-1]["coverage"], at[-1]["precision"]), fontsize=8)
        ax.set_xlabel("coverage: answerable questions answered right")
        ax.set_ylabel("precision of what is asserted")
        ax.set_ylim(0, 1.05)
    else:
        ax.text(0.5, 0.5, "no confidence scores", ha="center", va="center")
    ax.set_title(f"Risk-coverage (AURC {_fmt(result.get('aurc'))})")
    return png(fig)
