"""How sure is "the default beats baseline X by N macro-F1 points"? A paired bootstrap over gold paragraphs.

    python experiments/paired_bootstrap.py default keywords keywords_seed_lists tfidf_keywords [--resamples 2000]

For the first run against each other run: both runs' out-of-fold predictions (each under its own logged threshold
rule, cross-fitted by report, exactly as `trainer train` scores it) are compared on the same resampled paragraphs.
Prints the observed macro-F1 gap, its 95% bootstrap interval and the share of resamples where the gap is at
least 10 points. Paragraphs of one report are not independent, so the interval is, if anything, too narrow.
"""

from __future__ import annotations

import argparse

import numpy as np
from mlflow.tracking import MlflowClient
from sklearn.metrics import precision_recall_fscore_support
from threshold_rules import add_store_arguments, finished_runs, oof_scores, open_store

from trainer.config import EvaluationConfig
from trainer.evaluation import cross_fitted_predictions


def macro_f1(y: np.ndarray, predicted: np.ndarray) -> float:
    """Mean F1 over the themes present in y (as trainer.evaluation.compute_metrics)."""
    present = y.sum(0) > 0
    f1 = precision_recall_fscore_support(y, predicted, zero_division=0)[2]
    return float(f1[present].mean())


def predictions(client: MlflowClient, run, gold, taxonomy) -> np.ndarray:
    params = run.data.params
    rule = EvaluationConfig(
        thresholds=params.get("evaluation.thresholds", "per_theme"),
        threshold_shrinkage=float(params.get("evaluation.threshold_shrinkage", 10.0)),
        global_threshold=float(params.get("evaluation.global_threshold", 0.5)),
    )
    return cross_fitted_predictions(oof_scores(client, run, gold, taxonomy), gold.y, gold.groups, rule)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="+", help="the model, then the runs to compare it with")
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    add_store_arguments(parser)
    args = parser.parse_args()
    client, experiment, taxonomy, gold = open_store(args)
    runs = finished_runs(client, experiment, args.runs)
    predicted = {name: predictions(client, run, gold, taxonomy) for name, run in runs.items()}
    rng = np.random.default_rng(args.seed)
    samples = [rng.integers(0, len(gold), len(gold)) for _ in range(args.resamples)]
    first, y = args.runs[0], gold.y
    print(f"| {first} vs | observed macro-F1 gap | 95% interval | resamples with gap >= 10 points |")
    print("|---|---|---|---|")
    for other in args.runs[1:]:
        observed = macro_f1(y, predicted[first]) - macro_f1(y, predicted[other])
        gaps = np.array([macro_f1(y[s], predicted[first][s]) - macro_f1(y[s], predicted[other][s]) for s in samples])
        low, high = np.percentile(gaps, [2.5, 97.5])
        print(f"| {other} | {100 * observed:+.1f} | {100 * low:+.1f} to {100 * high:+.1f} | "
              f"{(gaps >= 0.10).mean():.0%} |")  # fmt: skip


if __name__ == "__main__":
    main()
