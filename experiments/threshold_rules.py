"""Compare threshold rules on a run's logged out-of-fold scores (no retraining), cross-fitted by report.

    python experiments/threshold_rules.py [RUN_NAME ...] [--tracking-uri URI] [--experiment theme-tagging]

Reads `evaluation/oof_scores.json` of the newest run of each name and prints micro/macro F1 under every rule
of `evaluation.thresholds` (trainer/evaluation.py), so the choice of rule is made on the same folds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from mlflow.tracking import MlflowClient

from trainer import tracking
from trainer.config import EvaluationConfig
from trainer.evaluation import compute_metrics, cross_fitted_predictions
from trainer.labels import DEFAULT_GOLD, load_gold
from trainer.taxonomy import load_taxonomy

RULES = [("per_theme", 10.0), ("shrunk", 5.0), ("shrunk", 10.0), ("shrunk", 20.0), ("shared", 10.0)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="*", default=["keywords", "tfidf", "default"])
    parser.add_argument("--tracking-uri", default=None)
    parser.add_argument("--experiment", default="theme-tagging")
    args = parser.parse_args()
    client = MlflowClient(args.tracking_uri or tracking.connect())
    experiment = client.get_experiment_by_name(args.experiment)
    taxonomy = load_taxonomy()
    gold = load_gold(DEFAULT_GOLD, taxonomy)
    print("| run | " + " | ".join(f"{r}" + (f" (k={k:g})" if r == "shrunk" else "") for r, k in RULES) + " |")
    print("|---|" + "---|" * len(RULES))
    for name in args.runs:
        runs = client.search_runs([experiment.experiment_id], f"attributes.run_name = '{name}'",
                                  order_by=["attributes.start_time DESC"], max_results=1)  # fmt: skip
        if not runs:
            print(f"| {name} | no such run |")
            continue
        table = json.loads(
            Path(client.download_artifacts(runs[0].info.run_id, "evaluation/oof_scores.json")).read_text()
        )
        frame = dict(zip(table["columns"], zip(*table["data"])))
        assert list(frame["id"]) == gold.ids, "the run's gold paragraphs differ from labels/gold.jsonl"
        scores = np.column_stack([frame[f"score_{t}"] for t in taxonomy.ids]).astype(float)
        cells = []
        for rule, k in RULES:
            predicted = cross_fitted_predictions(scores, gold.y, gold.groups,
                                                 EvaluationConfig(thresholds=rule, threshold_shrinkage=k))  # fmt: skip
            m = compute_metrics(gold.y, predicted, scores, taxonomy.ids)
            cells.append(f"{m.micro_f1:.3f} / {m.macro_f1:.3f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
