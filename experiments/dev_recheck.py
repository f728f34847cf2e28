"""Are the model's dev errors the model's, or the dev labels'? A blind re-annotation of dev documents (issue 12)

Two fresh annotators (`labels/real/passes/recheck_c.jsonl`, `recheck_d.jsonl`) labelled 26 dev documents drawn at
random (seed 20261207; 209 paragraphs), whole and in order, with only the brief `labels/briefs/real/annotate.md`,
the guideline and the texts: no earlier labels, no model output. This compares them with the dev labels and with a
run's logged dev predictions (its own cut-offs), and, for every (paragraph, theme) cell where the model and the dev
labels differ, counts which side the re-annotators take. Cells where both take the model's side are label errors;
cells where both take the dev labels' side are model errors.

    python experiments/dev_recheck.py --run default_b3 [--store sqlite:///mlruns/mlflow.db]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import mlflow
import numpy as np
from mlflow import MlflowClient
from sklearn.metrics import f1_score
from threshold_rules import logged_scores

from trainer.taxonomy import load_taxonomy

ROOT = Path(__file__).resolve().parents[1]
PASSES = ROOT / "labels/real/passes"


def read_pass(path: Path, theme_ids: list[str]) -> dict[str, np.ndarray]:
    rows = (json.loads(line) for line in path.open(encoding="utf-8"))
    return {r["id"]: np.array([t in r["themes"] for t in theme_ids]) for r in rows}


def agreement(a: np.ndarray, b: np.ndarray) -> dict:
    present = (a | b).any(axis=0)
    return {"micro": round(float(f1_score(a, b, average="micro")), 3),
            "macro": round(float(f1_score(a[:, present], b[:, present], average="macro", zero_division=0)), 3)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a run with logged dev scores (evaluation/dev_scores.json)")
    parser.add_argument("--store", default=f"sqlite:///{ROOT}/mlruns/mlflow.db")
    parser.add_argument("--out", type=Path, default=ROOT / "experiments/results/dev_recheck.json")
    args = parser.parse_args()

    theme_ids = load_taxonomy(ROOT / "labels/taxonomy.yaml").ids
    mlflow.set_tracking_uri(args.store)
    client = MlflowClient()
    experiment = client.get_experiment_by_name("theme-tagging")
    run = next(r for r in client.search_runs([experiment.experiment_id]) if r.info.run_name == args.run)
    ids, y, scores, _ = logged_scores(client, run, "evaluation/dev_scores.json", theme_ids)
    cuts = json.loads(Path(client.download_artifacts(run.info.run_id, "thresholds.json")).read_text())
    predicted = scores >= np.array([cuts[t] for t in theme_ids])

    c, d = read_pass(PASSES / "recheck_c.jsonl", theme_ids), read_pass(PASSES / "recheck_d.jsonl", theme_ids)
    rows = [i for i, pid in enumerate(ids) if pid in c]
    assert len(rows) == len(c) == len(d), "every re-annotated paragraph must be in the run's dev scores"
    pids = [ids[i] for i in rows]
    gold, model = y[rows].astype(bool), predicted[rows]
    C, D = np.array([c[p] for p in pids]), np.array([d[p] for p in pids])
    pairs = {"C vs D": (C, D), "dev labels vs C": (gold, C), "dev labels vs D": (gold, D),
             "dev labels vs model": (gold, model), "C vs model": (C, model), "D vs model": (D, model)}  # fmt: skip
    figures = {name: agreement(a, b) for name, (a, b) in pairs.items()}
    differ = gold != model
    both_gold = differ & (C == gold) & (D == gold)
    both_model = differ & (C == model) & (D == model)
    cells = {"model_differs": int(differ.sum()), "both_side_with_dev_labels": int(both_gold.sum()),
             "both_side_with_model": int(both_model.sum()), "split": int((differ & (C != D)).sum()),
             "false_positives": int((differ & model).sum()), "false_negatives": int((differ & gold).sum()),
             "per_theme": {t: [int(differ[:, j].sum()), int(both_gold[:, j].sum()), int(both_model[:, j].sum())]
                           for j, t in enumerate(theme_ids) if differ[:, j].any()}}  # fmt: skip
    relabelled = np.where(both_model, model, gold)
    figures["dev labels with the re-annotators' joint corrections vs model"] = agreement(relabelled, model)
    for name, value in figures.items():
        print(f"{name:62s} micro {value['micro']:.3f}  macro {value['macro']:.3f}")
    print(
        f"{len(pids)} paragraphs; cells where the model differs from the dev labels: {cells['model_differs']}; "
        f"both re-annotators side with the dev labels in {cells['both_side_with_dev_labels']}, with the model in "
        f"{cells['both_side_with_model']}, split {cells['split']}"
    )
    print("per theme [differ, with dev labels, with model]:", cells["per_theme"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"run": args.run, "paragraphs": len(pids), "agreement": figures, "cells": cells},
                                   indent=1, ensure_ascii=False), encoding="utf-8")  # fmt: skip


if __name__ == "__main__":
    main()
