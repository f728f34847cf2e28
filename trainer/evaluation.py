"""Report-grouped evaluation: folds, out-of-fold scores, thresholds tuned out of fold, metrics.

With five seed reports, a random split of paragraphs would leak a report's
wording into its own test fold, so every split here is by report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import average_precision_score, f1_score, precision_recall_fscore_support
from sklearn.model_selection import LeaveOneGroupOut

from trainer.config import EvaluationConfig

THRESHOLD_GRID = np.round(np.arange(0.05, 0.96, 0.05), 2)


def report_folds(groups: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Leave-one-report-out (train rows, test rows) pairs, in report order."""
    groups_arr = np.asarray(groups)
    return list(LeaveOneGroupOut().split(np.zeros(len(groups_arr)), groups=groups_arr))


def _best_cut(y_true: np.ndarray, scores: np.ndarray, prefer: float, average: str = "binary") -> float:
    """The grid cut-off with the best F1; ties go to the one closest to `prefer` (no lucky extremes)."""
    best, cut = (-1.0, 0.0), prefer
    for t in THRESHOLD_GRID:
        key = (round(f1_score(y_true, scores >= t, average=average, zero_division=0), 6), -abs(t - prefer))
        if key > best:
            best, cut = key, t
    return float(cut)


def tune_thresholds(scores: np.ndarray, y: np.ndarray, rule: EvaluationConfig) -> np.ndarray:
    """Cut-offs per theme from (out-of-fold) scores, by `rule.thresholds`:

    - `per_theme`: each theme's own F1-best cut-off (themes without a positive keep `global_threshold`);
    - `shared`: one cut-off for all themes, best micro-F1;
    - `shrunk`: each theme's own cut-off pulled toward the shared one, with weight
      `support / (support + threshold_shrinkage)`: a theme seen 2 times mostly follows the shared cut-off,
      one seen 30 times mostly its own. Per-theme cut-offs tuned on a handful of positives are noise;
    - `global`: `global_threshold` for every theme, nothing tuned.
    """
    n_themes = y.shape[1]
    if rule.thresholds == "global":
        return np.full(n_themes, rule.global_threshold)
    shared = _best_cut(y, scores, rule.global_threshold, average="micro")
    if rule.thresholds == "shared":
        return np.full(n_themes, shared)
    fallback = shared if rule.thresholds == "shrunk" else rule.global_threshold
    own = np.array([_best_cut(y[:, j], scores[:, j], fallback) if y[:, j].any() else fallback
                    for j in range(n_themes)])  # fmt: skip
    if rule.thresholds == "per_theme":
        return own
    support = y.sum(axis=0).astype(float)
    weight = np.divide(support, support + rule.threshold_shrinkage, out=np.zeros_like(support),
                       where=support + rule.threshold_shrinkage > 0)  # fmt: skip
    return weight * own + (1 - weight) * shared


def cross_fitted_predictions(scores: np.ndarray, y: np.ndarray, groups: list[str],
                             rule: EvaluationConfig) -> np.ndarray:  # fmt: skip
    """Predictions where each report's thresholds are tuned on the other reports' scores only.

    Tuning and measuring on the same out-of-fold scores would flatter the model;
    this keeps every reported figure on labels the threshold never saw.
    """
    predicted = np.zeros_like(y)
    for train_rows, test_rows in report_folds(groups):
        predicted[test_rows] = scores[test_rows] >= tune_thresholds(scores[train_rows], y[train_rows], rule)
    return predicted


@dataclass
class Metrics:
    micro_f1: float
    macro_f1: float
    samples_f1: float
    micro_precision: float
    micro_recall: float
    pr_auc_micro: float
    pr_auc_macro: float
    per_theme: dict[str, dict[str, float]]

    def summary(self) -> dict[str, float]:
        return {k: v for k, v in self.__dict__.items() if k != "per_theme"}


def compute_metrics(y: np.ndarray, predicted: np.ndarray, scores: np.ndarray, theme_ids: list[str]) -> Metrics:
    """Micro/macro/samples F1 and per-theme figures; macro averages themes present in the gold labels."""
    present = [j for j in range(y.shape[1]) if y[:, j].sum() > 0]
    p, r, f, s = precision_recall_fscore_support(y, predicted, zero_division=0)
    per_theme = {}
    for j, theme in enumerate(theme_ids):
        ap = float(average_precision_score(y[:, j], scores[:, j])) if y[:, j].sum() > 0 else float("nan")
        per_theme[theme] = {"precision": float(p[j]), "recall": float(r[j]), "f1": float(f[j]),
                            "support": int(s[j]), "pr_auc": ap}  # fmt: skip
    micro_p, micro_r, micro_f, _ = precision_recall_fscore_support(y, predicted, average="micro", zero_division=0)
    return Metrics(
        micro_f1=float(micro_f),
        macro_f1=float(np.mean([f[j] for j in present])) if present else 0.0,
        # A paragraph with no gold theme and none predicted is a perfect answer, not a zero.
        samples_f1=float(f1_score(y, predicted, average="samples", zero_division=1.0)),
        micro_precision=float(micro_p),
        micro_recall=float(micro_r),
        pr_auc_micro=float(average_precision_score(y[:, present], scores[:, present], average="micro")),
        pr_auc_macro=float(np.mean([per_theme[theme_ids[j]]["pr_auc"] for j in present])),
        per_theme=per_theme,
    )


THEME_FIGURES = ("precision", "recall", "f1", "support", "pr_auc")


def theme_metric_key(figure: str, theme: str) -> str:
    """MLflow name of a per-theme figure, e.g. `theme_f1/enforcement`: the UI groups charts by the part before '/'."""
    return f"theme_{figure}/{theme}"


def theme_metrics(metrics: Metrics) -> dict[str, float]:
    """Every per-theme figure under its MLflow name (a theme with no gold paragraph has no PR-AUC)."""
    return {theme_metric_key(figure, theme): value for theme, figures in metrics.per_theme.items()
            for figure, value in figures.items() if not np.isnan(value)}  # fmt: skip
