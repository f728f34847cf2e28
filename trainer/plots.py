"""Evaluation figures logged with every run (theme ids as labels: no CJK font needed)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import precision_recall_curve  # noqa: E402


def f1_bars(per_theme: dict[str, dict[str, float]]):
    themes = list(per_theme)
    fig, ax = plt.subplots(figsize=(9, 5))
    f1 = [per_theme[t]["f1"] for t in themes]
    ax.barh(themes, f1, color="#4C72B0")
    for i, t in enumerate(themes):
        ax.text(min(f1[i] + 0.01, 0.92), i, f"n={per_theme[t]['support']}", va="center", fontsize=8)
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xlabel("F1 (out of fold, report-grouped)")
    ax.set_title("Per-theme F1")
    fig.tight_layout()
    return fig


def pr_curves(y: np.ndarray, scores: np.ndarray, theme_ids: list[str]):
    cols = 5
    rows = int(np.ceil(len(theme_ids) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 2.6 * rows), squeeze=False)
    for j, theme in enumerate(theme_ids):
        ax = axes[j // cols][j % cols]
        if y[:, j].sum() > 0:
            precision, recall, _ = precision_recall_curve(y[:, j], scores[:, j])
            ax.plot(recall, precision)
        else:
            ax.text(0.5, 0.5, "no gold example", ha="center", fontsize=8)
        ax.set_title(f"{theme} (n={int(y[:, j].sum())})", fontsize=8)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.05)
    for k in range(len(theme_ids), rows * cols):
        axes[k // cols][k % cols].axis("off")
    fig.suptitle("Precision-recall per theme (out of fold)")
    fig.tight_layout()
    return fig


def confusion_heatmap(y: np.ndarray, predicted: np.ndarray, theme_ids: list[str]):
    """Rows: gold theme; columns: predicted theme; cell: paragraphs with both. The diagonal is hits."""
    matrix = y.T.astype(int) @ predicted.astype(int)
    fig, ax = plt.subplots(figsize=(9, 8))
    image = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(theme_ids)), theme_ids, rotation=90, fontsize=8)
    ax.set_yticks(range(len(theme_ids)), theme_ids, fontsize=8)
    for i in range(len(theme_ids)):
        for j in range(len(theme_ids)):
            if matrix[i, j]:
                ax.text(j, i, matrix[i, j], ha="center", va="center", fontsize=7)
    ax.set_xlabel("predicted theme")
    ax.set_ylabel("gold theme")
    ax.set_title("Gold vs predicted themes (paragraph counts)")
    fig.colorbar(image, ax=ax, shrink=0.7)
    fig.tight_layout()
    return fig
