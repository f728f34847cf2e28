"""Agreement between two independent annotation passes, as F1 of one against the other."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trainer.errors import UserError
from trainer.evaluation import compute_metrics
from trainer.labels import read_jsonl
from trainer.taxonomy import Taxonomy


def _pass(path: Path, taxonomy: Taxonomy) -> dict[str, list[str]]:
    labels = {}
    for lineno, row in read_jsonl(path):
        unknown = [t for t in row.get("themes", []) if t not in taxonomy.ids]
        if unknown:
            raise UserError(f"{path}:{lineno}: unknown theme(s) {unknown}")
        labels[row["id"]] = row.get("themes", [])
    return labels


def agreement_of(a: dict[str, list[str]], b: dict[str, list[str]], taxonomy: Taxonomy):
    """(metrics of b against a, exact-match share, paragraphs) for two label sets over the same paragraph ids."""
    ids = sorted(a)
    index = {t: j for j, t in enumerate(taxonomy.ids)}

    def matrix(labels):
        y = np.zeros((len(ids), len(taxonomy)), dtype=int)
        for i, pid in enumerate(ids):
            for t in labels[pid]:
                y[i, index[t]] = 1
        return y

    ya, yb = matrix(a), matrix(b)
    exact = float(np.mean((ya == yb).all(axis=1)))
    return compute_metrics(ya, yb, yb.astype(float), taxonomy.ids), exact, len(ids)


def agreement(first: Path, second: Path, taxonomy: Taxonomy):
    a, b = _pass(first, taxonomy), _pass(second, taxonomy)
    if set(a) != set(b):
        raise UserError(f"{first} and {second} label different paragraphs ({len(set(a) ^ set(b))} ids differ)")
    return agreement_of(a, b, taxonomy)


def format_agreement(metrics, exact: float, n: int, only: set[str] | None = None) -> str:
    """The agreement table; `only` limits the per-theme lines to those themes."""
    lines = [f"paragraphs: {n}", f"micro-F1: {metrics.micro_f1:.3f}", f"macro-F1: {metrics.macro_f1:.3f}",
             f"exact match: {exact:.3f}", "", "theme                        F1     support(first pass)"]  # fmt: skip
    for theme, figures in metrics.per_theme.items():
        if only is None or theme in only:
            lines.append(f"{theme:<28} {figures['f1']:.3f}  {figures['support']}")
    return "\n".join(lines)


def agreement_table(first: Path, second: Path, taxonomy: Taxonomy) -> str:
    return format_agreement(*agreement(first, second, taxonomy))
