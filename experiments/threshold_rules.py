"""Compare threshold rules on a run's logged out-of-fold scores (no retraining), cross-fitted by report.

    python experiments/threshold_rules.py [RUN_NAME ...] [--tracking-uri URI] [--experiment theme-tagging]

Reads `evaluation/oof_scores.json` of the newest run of each name and prints micro/macro F1 under every rule
of `evaluation.thresholds` (trainer/evaluation.py), so the choice of rule is made on the same folds.

With `--dev`, each rule is instead tuned on all of a run's logged out-of-fold scores (seeds and real training
documents, as `trainer train` does) and applied to its logged dev-part scores (`evaluation/dev_scores.json`): the
dev figure each rule would have given.

    python experiments/threshold_rules.py default default_b2 --dev [--tune-on seeds|real]

`--tune-on seeds` tunes on the seeds' out-of-fold scores alone: the encoder never saw the seed reports, while it
was domain-tuned on every real training document, whose out-of-fold scores are therefore over-confident.

The last column tries an explicit empty-label decision on top of `shrunk`: when no theme passes its cut-off, a
paragraph still gets its top theme if that theme's score reaches a second cut-off (tuned on the training reports,
like the thresholds); otherwise it is boilerplate. The last two columns count the gold paragraphs with no theme
and how many of them get none under `shrunk`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from mlflow.tracking import MlflowClient

from trainer import tracking
from trainer.config import EvaluationConfig
from trainer.evaluation import THRESHOLD_GRID, compute_metrics, cross_fitted_predictions, report_folds, tune_thresholds
from trainer.labels import DEFAULT_GOLD, load_gold
from trainer.taxonomy import load_taxonomy

RULES = [("per_theme", 10.0), ("shrunk", 5.0), ("shrunk", 10.0), ("shrunk", 20.0), ("shared", 10.0)]


def with_top_theme(scores: np.ndarray, thresholds: np.ndarray, cut: float) -> np.ndarray:
    """Themes above their cut-offs; a paragraph with none gets its top theme if that scores at least `cut`."""
    predicted = (scores >= thresholds).astype(int)
    rows = np.flatnonzero((predicted.sum(1) == 0) & (scores.max(1) >= cut))
    predicted[rows, scores[rows].argmax(1)] = 1
    return predicted


def top_theme_rule(scores: np.ndarray, y: np.ndarray, groups: list[str]) -> np.ndarray:
    """`shrunk` plus the top-theme cut-off, both tuned on the other reports only (micro-F1; ties: higher cut)."""
    rule = EvaluationConfig(thresholds="shrunk")
    predicted = np.zeros_like(y)
    for train_rows, test_rows in report_folds(groups):
        thresholds = tune_thresholds(scores[train_rows], y[train_rows], rule)
        cut = max((f1_micro(y[train_rows], with_top_theme(scores[train_rows], thresholds, c)), c)
                  for c in [*THRESHOLD_GRID, 1.01])[1]  # fmt: skip
        predicted[test_rows] = with_top_theme(scores[test_rows], thresholds, cut)
    return predicted


def f1_micro(y: np.ndarray, predicted: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return round(float(f1_score(y, predicted, average="micro", zero_division=0)), 6)


def newest_finished(client: MlflowClient, experiment_id: str, name: str):
    """The newest finished run of that name, or None."""
    finished = f"attributes.run_name = '{name}' and attributes.status = 'FINISHED'"
    runs = client.search_runs([experiment_id], finished, order_by=["attributes.start_time DESC"], max_results=1)
    return runs[0] if runs else None


def logged_scores(client: MlflowClient, run, name: str, theme_ids: list[str] | None = None):
    """(paragraph ids, gold matrix, score matrix, theme ids) of a logged score table (`evaluation/oof_scores.json`,
    `evaluation/dev_scores.json`); columns in `theme_ids` order, or the table's own."""
    table = json.loads(Path(client.download_artifacts(run.info.run_id, name)).read_text())
    frame = dict(zip(table["columns"], zip(*table["data"])))
    themes = theme_ids or [c[len("score_") :] for c in table["columns"] if c.startswith("score_")]
    gold = [set((g or "").split(",")) for g in frame["gold"]]
    y = np.array([[t in labels for t in themes] for labels in gold], dtype=int)
    scores = np.column_stack([np.asarray(frame[f"score_{t}"]) for t in themes]).astype(float)
    return list(frame["id"]), y, scores, themes


def oof_scores(client: MlflowClient, run, gold, taxonomy) -> np.ndarray:
    """The run's logged out-of-fold scores, rows in gold order, columns in taxonomy order."""
    ids, _, scores, _ = logged_scores(client, run, "evaluation/oof_scores.json", taxonomy.ids)
    # runs with data.real also logged the real training documents' out-of-fold scores: keep the gold rows
    row_of = {pid: i for i, pid in enumerate(ids)}
    missing = [pid for pid in gold.ids if pid not in row_of]
    assert not missing, f"the run's out-of-fold scores lack gold paragraphs, e.g. {missing[:3]}"
    return scores[[row_of[pid] for pid in gold.ids]]


def dev_table(client: MlflowClient, runs: list[str], experiment, taxonomy, gold, tune_on: str = "all") -> None:
    """Each rule tuned on the logged out-of-fold scores (`tune_on`: all of them, the seeds' or the real training
    documents'), applied to the logged dev scores."""
    print("| run | " + " | ".join(f"{r} (k={k:g})" if r == "shrunk" else r for r, k in RULES) + " |")
    print("|---|" + "---|" * len(RULES))
    for name, run in finished_runs(client, experiment, runs).items():
        ids, y_oof, oof, _ = logged_scores(client, run, "evaluation/oof_scores.json", taxonomy.ids)
        if tune_on != "all":
            seeds = np.isin(ids, gold.ids)
            keep = seeds if tune_on == "seeds" else ~seeds
            y_oof, oof = y_oof[keep], oof[keep]
        _, y_dev, dev, _ = logged_scores(client, run, "evaluation/dev_scores.json", taxonomy.ids)
        cells = []
        for rule, k in RULES:
            cut = tune_thresholds(oof, y_oof, EvaluationConfig(thresholds=rule, threshold_shrinkage=k))
            m = compute_metrics(y_dev, (dev >= cut).astype(int), dev, taxonomy.ids)
            cells.append(f"{m.micro_f1:.3f} / {m.macro_f1:.3f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


def finished_runs(client: MlflowClient, experiment, names: list[str]) -> dict:
    """The newest finished run of each name; exits naming the missing ones."""
    found = {name: newest_finished(client, experiment.experiment_id, name) for name in names}
    missing = [name for name, run in found.items() if run is None]
    if missing:
        raise SystemExit(f"no finished run named {', '.join(missing)} in experiment {experiment.name}")
    return found


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tracking-uri", default=None)
    parser.add_argument("--experiment", default="theme-tagging")


def open_store(args: argparse.Namespace):
    """(client, experiment, taxonomy, gold) for the store and experiment the arguments name."""
    client = MlflowClient(args.tracking_uri or tracking.connect())
    experiment = client.get_experiment_by_name(args.experiment)
    if experiment is None:
        raise SystemExit(f"no experiment named {args.experiment} in {client.tracking_uri}")
    taxonomy = load_taxonomy()
    return client, experiment, taxonomy, load_gold(DEFAULT_GOLD, taxonomy)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="*", default=["keywords", "tfidf", "default"])
    parser.add_argument("--dev", action="store_true", help="tune on all out-of-fold scores, score the dev part")
    parser.add_argument(
        "--tune-on",
        choices=["all", "seeds", "real"],
        default="all",
        help="with --dev: tune on these out-of-fold scores only (the seeds' or the real documents')",
    )
    add_store_arguments(parser)
    args = parser.parse_args()
    client, experiment, taxonomy, gold = open_store(args)
    if args.dev:
        return dev_table(client, args.runs, experiment, taxonomy, gold, args.tune_on)
    header = [f"{r}" + (f" (k={k:g})" if r == "shrunk" else "") for r, k in RULES]
    header += ["shrunk + top theme unless boilerplate", "no-theme paragraphs", "of them given none (shrunk)"]
    print("| run | " + " | ".join(header) + " |")
    print("|---|" + "---|" * len(header))
    for name in args.runs:
        run = newest_finished(client, experiment.experiment_id, name)
        if run is None:
            print(f"| {name} | no such run |")
            continue
        scores = oof_scores(client, run, gold, taxonomy)
        cells = []
        for rule, k in RULES:
            predicted = cross_fitted_predictions(scores, gold.y, gold.groups,
                                                 EvaluationConfig(thresholds=rule, threshold_shrinkage=k))  # fmt: skip
            m = compute_metrics(gold.y, predicted, scores, taxonomy.ids)
            cells.append(f"{m.micro_f1:.3f} / {m.macro_f1:.3f}")
        m = compute_metrics(gold.y, top_theme_rule(scores, gold.y, gold.groups), scores, taxonomy.ids)
        cells.append(f"{m.micro_f1:.3f} / {m.macro_f1:.3f}")
        shrunk = cross_fitted_predictions(scores, gold.y, gold.groups, EvaluationConfig(thresholds="shrunk"))
        empty = gold.y.sum(1) == 0
        cells += [str(int(empty.sum())), str(int((empty & (shrunk.sum(1) == 0)).sum()))]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
