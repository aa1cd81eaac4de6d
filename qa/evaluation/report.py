"""Evaluation reports: a Markdown table, the full JSON, and a recall@k plot."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

__all__ = ["write_reports", "markdown_table", "BEIR_BASELINES"]

# Published SciFact test figures (../shared/bench/README.md lists the sources).
BEIR_BASELINES = {
    "scifact": [
        ("BM25, Elasticsearch (BEIR paper)", 0.665, None),
        ("BM25 flat (Pyserini)", 0.6789, 0.9253),
        ("all-MiniLM-L6-v2, dense (MTEB)", 0.6451, 0.925),
        ("bge-small-en-v1.5, dense (MTEB)", 0.7127, 0.945),
        ("bge-base-en-v1.5, dense (Pyserini)", 0.7408, 0.9667),
    ]
}


def markdown_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    def cell(value: Any) -> str:
        return f"{value:.3f}" if isinstance(value, float) else ("—" if value is None else str(value))

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def write_reports(results: dict[str, Any], directory: Path, name: str, title: str, markdown: str) -> list[Path]:
    """Write ``name``.md, ``name``.json and, when recall curves are present, ``name``-recall.png."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    paths = [directory / f"{name}.md", directory / f"{name}.json"]
    paths[0].write_text(f"# {title}\n\nGenerated {stamp}.\n\n{markdown}\n", encoding="utf-8")
    paths[1].write_text(json.dumps({"generated": stamp, **results}, indent=2) + "\n", encoding="utf-8")
    curves = {mode: r["recall_curve"] for mode, r in results.get("modes", {}).items() if r.get("recall_curve")}
    if curves:
        paths.append(_plot_recall(curves, directory / f"{name}-recall.png", title))
    return paths


def _plot_recall(curves: dict[str, list[float]], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # no display here; write the file only
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for mode, values in curves.items():
        ax.plot(range(1, len(values) + 1), values, marker="o", markersize=3, label=mode)
    ax.set(xlabel="k (passages returned)", ylabel="mean recall@k", title=title, ylim=(0, 1.02),
           xticks=range(1, max(len(v) for v in curves.values()) + 1))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
