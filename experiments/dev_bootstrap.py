"""How sure is "model A beats model B on the real dev part"? A paired bootstrap over dev documents.

    python experiments/dev_bootstrap.py default previous_default_on_dev [--tracking-uri sqlite:///mlruns/experiments.db]

Both runs' dev predictions are rebuilt exactly as `trainer train` scored them (the logged dev scores
`evaluation/dev_scores.json` cut at the logged `thresholds.json`). Documents, not paragraphs, are resampled with
replacement (the paragraphs of one document are not independent), and both runs are scored on the same resample.
Prints each run's dev micro/macro-F1, the observed gaps and their 95% intervals.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from mlflow.tracking import MlflowClient
from sklearn.metrics import f1_score, precision_recall_fscore_support
from threshold_rules import add_store_arguments, finished_runs, open_store


def dev_predictions(client: MlflowClient, run) -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    """(paragraph ids, gold matrix, predicted matrix, theme ids) from a run's logged dev scores and thresholds."""
    table = json.loads(Path(client.download_artifacts(run.info.run_id, "evaluation/dev_scores.json")).read_text())
    thresholds = json.loads(Path(client.download_artifacts(run.info.run_id, "thresholds.json")).read_text())
    columns = table["columns"]
    themes = [c[len("score_") :] for c in columns if c.startswith("score_")]
    rows = [dict(zip(columns, r)) for r in table["data"]]
    ids = [r["id"] for r in rows]
    gold = np.array([[t in (r["gold"] or "").split(",") for t in themes] for r in rows], dtype=int)
    cut = np.array([thresholds[t] for t in themes])
    predicted = (np.array([[r[f"score_{t}"] for t in themes] for r in rows]) >= cut).astype(int)
    return ids, gold, predicted, themes


def micro_macro(y: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    present = y.sum(0) > 0
    per_theme = precision_recall_fscore_support(y, predicted, zero_division=0)[2]
    return float(f1_score(y, predicted, average="micro", zero_division=0)), float(per_theme[present].mean())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="+", help="the model, then the runs to compare it with")
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    add_store_arguments(parser)
    args = parser.parse_args()
    client, experiment, _taxonomy, _gold = open_store(args)
    found = finished_runs(client, experiment, args.runs)
    results = {name: dev_predictions(client, run) for name, run in found.items()}
    first = args.runs[0]
    ids, y, _, _ = results[first]
    docs = np.array([i.split(":")[0] for i in ids])
    unique = np.unique(docs)
    rows_of = {d: np.flatnonzero(docs == d) for d in unique}
    rng = np.random.default_rng(args.seed)
    samples = [np.concatenate([rows_of[d] for d in rng.choice(unique, len(unique))]) for _ in range(args.resamples)]
    for name, (other_ids, _, predicted, _) in results.items():
        if other_ids != ids:
            raise SystemExit(f"run {name} was scored on other dev paragraphs than {first}; re-run both on one set")
        micro, macro = micro_macro(y, predicted)
        print(
            f"{name}: dev micro-F1 {micro:.3f}, macro-F1 {macro:.3f} ({len(ids)} paragraphs, {len(unique)} documents)"
        )
    print(
        f"\n| {first} vs | micro-F1 gap (95% interval) | macro-F1 gap (95% interval) | resamples where {first} wins (macro) |"
    )
    print("|---|---|---|---|")
    base = results[first][2]
    for other in args.runs[1:]:
        theirs = results[other][2]
        observed = np.subtract(micro_macro(y, base), micro_macro(y, theirs))
        gaps = np.array([np.subtract(micro_macro(y[s], base[s]), micro_macro(y[s], theirs[s])) for s in samples])
        low, high = np.percentile(gaps, [2.5, 97.5], axis=0)
        print(f"| {other} | {100 * observed[0]:+.1f} ({100 * low[0]:+.1f} to {100 * high[0]:+.1f}) | "
              f"{100 * observed[1]:+.1f} ({100 * low[1]:+.1f} to {100 * high[1]:+.1f}) | {(gaps[:, 1] > 0).mean():.0%} |")  # fmt: skip


if __name__ == "__main__":
    main()
