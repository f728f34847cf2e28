"""Rules on top of the scores: the guideline's heading rule and a calibrated "no theme" decision (issue 12)

Two candidates the issue names, applied to a run's logged scores (no re-training):

- **heading rule** (GUIDELINES §3: a heading gets the themes it names, nothing more): on paragraphs that
  `looks_like_heading`, a theme above the cut-off is kept only where one of its taxonomy keywords occurs in the
  heading (`strict`), or a theme whose keyword occurs is added even under the cut-off (`add`), or both (`both`);
- **no-theme decision**: a paragraph with no theme above the cut-off gets its top theme when that theme's score
  reaches a second, lower cut-off, tuned on the real training documents' out-of-fold scores (micro-F1).

Each is scored on the real training documents' out-of-fold scores (where the lower cut-off is tuned) and on the
dev part, against the run's own decisions (its logged cut-offs).

    python experiments/decision_rules.py --run default_b3 [--store sqlite:///mlruns/mlflow.db]
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

from trainer.paragraphs import looks_like_heading
from trainer.taxonomy import load_taxonomy

ROOT = Path(__file__).resolve().parents[1]


def heading_rule(texts: list[str], predicted: np.ndarray, taxonomy, mode: str) -> np.ndarray:
    out = predicted.copy()
    for i, text in enumerate(texts):
        if not looks_like_heading(text):
            continue
        named = np.array([bool(taxonomy.keywords_found(t, text)) for t in taxonomy.ids])
        if mode in ("strict", "both"):
            out[i] &= named
        if mode in ("add", "both"):
            out[i] |= named
    return out


def no_theme_rule(scores: np.ndarray, predicted: np.ndarray, low: float) -> np.ndarray:
    out = predicted.copy()
    empty = ~out.any(axis=1) & (scores.max(axis=1) >= low)
    out[np.flatnonzero(empty), scores[empty].argmax(axis=1)] = True
    return out


def f1s(y: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    present = y.any(axis=0)
    return (round(float(f1_score(y, predicted, average="micro")), 3),
            round(float(f1_score(y[:, present], predicted[:, present], average="macro", zero_division=0)), 3))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a run with logged out-of-fold and dev scores")
    parser.add_argument("--store", default=f"sqlite:///{ROOT}/mlruns/mlflow.db")
    parser.add_argument("--out", type=Path, default=ROOT / "experiments/results/decision_rules.json")
    args = parser.parse_args()

    taxonomy = load_taxonomy(ROOT / "labels/taxonomy.yaml")
    text_of = {}
    for line in (ROOT / "labels/real/paragraphs.jsonl").open(encoding="utf-8"):
        row = json.loads(line)
        text_of[row["id"]] = row["text"]
    mlflow.set_tracking_uri(args.store)
    client = MlflowClient()
    experiment = client.get_experiment_by_name("theme-tagging")
    run = next(r for r in client.search_runs([experiment.experiment_id]) if r.info.run_name == args.run)
    cuts_of = json.loads(Path(client.download_artifacts(run.info.run_id, "thresholds.json")).read_text())
    cuts = np.array([cuts_of[t] for t in taxonomy.ids])

    parts = {}
    for part, name in (("real training part (out of fold)", "oof_scores"), ("dev part", "dev_scores")):
        ids, y, scores, _ = logged_scores(client, run, f"evaluation/{name}.json", taxonomy.ids)
        keep = [i for i, pid in enumerate(ids) if pid in text_of]  # the real documents' rows, not the seeds'
        parts[part] = ([text_of[ids[i]] for i in keep], y[keep].astype(bool), scores[keep])
    oof_texts, oof_y, oof_scores = parts["real training part (out of fold)"]
    oof_pred = oof_scores >= cuts
    grid = np.round(np.arange(0.05, float(cuts.min()), 0.025), 3)
    low = max(grid, key=lambda g: f1s(oof_y, no_theme_rule(oof_scores, oof_pred, g))[0]) if len(grid) else 1.0

    results = {"no_theme_low_cut": float(low)}
    for part, (texts, y, scores) in parts.items():
        predicted = scores >= cuts
        rows = {"the run's decisions": f1s(y, predicted)}
        for mode in ("strict", "add", "both"):
            rows[f"heading rule ({mode})"] = f1s(y, heading_rule(texts, predicted, taxonomy, mode))
        rows[f"no-theme decision (top theme if >= {low:g})"] = f1s(y, no_theme_rule(scores, predicted, low))
        rows["empty paragraphs: gold / predicted"] = (int((~y.any(axis=1)).sum()), int((~predicted.any(axis=1)).sum()))
        rows["headings"] = int(sum(looks_like_heading(t) for t in texts))
        results[part] = rows
        print(part)
        for name, value in rows.items():
            print(f"  {name:48s} {value}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"run": args.run, **results}, indent=1, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
