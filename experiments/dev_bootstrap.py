"""How sure is "model A beats model B on the real dev part"? A paired bootstrap over dev documents.

    python experiments/dev_bootstrap.py default previous_default_on_dev [--tracking-uri sqlite:///mlruns/experiments.db]
    python experiments/dev_bootstrap.py models:/theme-tagger/2 models:/theme-tagger/1 [--documents rd001-rd180]

A run name's dev predictions are rebuilt exactly as `trainer train` scored them (the logged dev scores
`evaluation/dev_scores.json` cut at the logged `thresholds.json`). A model URI (`models:/`, `runs:/` or a bundle
folder) is instead scored now on the dev part of `labels/real/paragraphs.jsonl` as it is today, with the model's own
thresholds (int8 as registered; `--precision int8|fp32` forces one for all, e.g. beside a bundle folder, which
loads fp32 by default): that compares models trained before and after the dev part grew on the same
paragraphs. `--documents rd001-rd180` keeps only those dev documents (the dev part as an earlier round had it).
Documents, not paragraphs, are resampled with replacement (the paragraphs of one document are not independent),
and all models are scored on the same resample. Prints each model's dev micro/macro-F1, the observed gaps and their
95% intervals.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from mlflow.tracking import MlflowClient
from sklearn.metrics import f1_score, precision_recall_fscore_support
from threshold_rules import add_store_arguments, finished_runs, logged_scores, open_store

REAL = Path(__file__).resolve().parent.parent / "labels" / "real" / "paragraphs.jsonl"


def dev_predictions(client: MlflowClient, run) -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    """(paragraph ids, gold matrix, predicted matrix, theme ids) from a run's logged dev scores and thresholds."""
    ids, gold, scores, themes = logged_scores(client, run, "evaluation/dev_scores.json")
    thresholds = json.loads(Path(client.download_artifacts(run.info.run_id, "thresholds.json")).read_text())
    predicted = (scores >= np.array([thresholds[t] for t in themes])).astype(int)
    return ids, gold, predicted, themes


def rescored_predictions(
    model_uri: str, tracking_uri: str | None, int8: bool | None
) -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    """(paragraph ids, gold, predicted, theme ids) of a model scored now on today's dev part."""
    from trainer.tagging import load_bundle

    bundle = load_bundle(model_uri, int8, tracking_uri)
    themes = bundle.taxonomy.ids
    rows = [json.loads(line) for line in REAL.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if r["split"] == "dev"]
    gold = np.array([[t in r["themes"] for t in themes] for r in rows], dtype=int)
    predicted = (bundle.scores([r["text"] for r in rows]) >= bundle.thresholds).astype(int)
    return [r["id"] for r in rows], gold, predicted, themes


def is_model_uri(name: str) -> bool:
    return name.startswith(("models:/", "runs:/")) or Path(name).is_dir()


def keep_documents(ids: list[str], spec: str | None) -> np.ndarray:
    """Row positions of the dev documents `spec` names ("rd001-rd180"), or all rows."""
    if not spec:
        return np.arange(len(ids))
    low, high = (int(part.strip().removeprefix("rd")) for part in spec.split("-"))
    return np.array([i for i, pid in enumerate(ids) if low <= int(pid.split(":")[0].removeprefix("rd")) <= high])


def aligned(results: dict, first: str) -> dict:
    """Every model's rows in the first model's paragraph order; exits if they were scored on other paragraphs."""
    ids = results[first][0]
    out = {}
    for name, (other_ids, y, predicted, themes) in results.items():
        if sorted(other_ids) != sorted(ids) or themes != results[first][3]:
            raise SystemExit(f"{name} was scored on other dev paragraphs than {first}; rescore both (model URIs)")
        order = {pid: i for i, pid in enumerate(other_ids)}
        rows = [order[pid] for pid in ids]
        out[name] = (ids, y[rows], predicted[rows], themes)
    return out


def micro_macro(y: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    present = y.sum(0) > 0
    per_theme = precision_recall_fscore_support(y, predicted, zero_division=0)[2]
    return float(f1_score(y, predicted, average="micro", zero_division=0)), float(per_theme[present].mean())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="+", help="the model, then the ones to compare it with: run names or model URIs")
    parser.add_argument("--documents", help="only these dev documents, e.g. rd001-rd180")
    parser.add_argument(
        "--precision",
        choices=["logged", "int8", "fp32"],
        default="logged",
        help="for model URIs: as logged (a bundle folder: fp32), or force int8 / fp32 for all",
    )
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    add_store_arguments(parser)
    args = parser.parse_args()
    names = [n for n in args.runs if not is_model_uri(n)]
    results = {}
    if names:
        client, experiment, _taxonomy, _gold = open_store(args)
        results = {name: dev_predictions(client, run) for name, run in finished_runs(client, experiment, names).items()}
    results.update(
        {
            uri: rescored_predictions(
                uri, args.tracking_uri, {"logged": None, "int8": True, "fp32": False}[args.precision]
            )
            for uri in args.runs
            if is_model_uri(uri)
        }
    )
    first = args.runs[0]
    results = aligned(results, first)
    keep = keep_documents(results[first][0], args.documents)
    results = {name: ([ids[i] for i in keep], y[keep], predicted[keep], themes)
               for name, (ids, y, predicted, themes) in results.items()}  # fmt: skip
    ids, y, _, _ = results[first]
    docs = np.array([i.split(":")[0] for i in ids])
    unique = np.unique(docs)
    rows_of = {d: np.flatnonzero(docs == d) for d in unique}
    rng = np.random.default_rng(args.seed)
    samples = [np.concatenate([rows_of[d] for d in rng.choice(unique, len(unique))]) for _ in range(args.resamples)]
    for name, (_, _, predicted, _) in results.items():
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
