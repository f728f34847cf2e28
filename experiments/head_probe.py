"""Is the domain-tuned encoder's own classification head a useful member beside the probe? (issue 12)

The encoder is fine-tuned with a multi-label head (warm start on the examples, then domain tuning on the real
training part), but a run throws that head away and fits a logistic-regression probe on the embeddings. This
scores, on the dev part: the head alone, the probe alone (as domain_probe.py fits it), and each of them averaged
into a run's logged ensemble dev scores, over a range of shared cut-offs (no cut-off is tuned here: the head has
seen every real training document, so it has no honest out-of-fold scores; the range shows whether it is worth
building).

    python experiments/head_probe.py --key <domain-stage cache key> --run <run name> [--store sqlite:///mlruns/mlflow.db]
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

from trainer import warm_cache
from trainer.labels import load_examples, load_gold, load_real
from trainer.models.linear import PerThemeLogistic
from trainer.taxonomy import load_taxonomy

ROOT = Path(__file__).resolve().parents[1]
CUTS = (0.3, 0.35, 0.4, 0.45, 0.5)


def row(name: str, y: np.ndarray, scores: np.ndarray) -> dict:
    out = {}
    for cut in CUTS:
        p = scores >= cut
        out[f"{cut:g}"] = (round(f1_score(y, p, average="micro"), 3),
                           round(f1_score(y, p, average="macro", zero_division=0), 3))  # fmt: skip
    print(f"{name:34s} " + "  ".join(f"{c}: {m:.3f}/{M:.3f}" for c, (m, M) in out.items()))
    return out


def load_parts(key: str):
    """(taxonomy, gold, real train, real dev, examples, the cached domain-stage model) as a default run has them."""
    taxonomy = load_taxonomy(ROOT / "labels/taxonomy.yaml")
    gold = load_gold(ROOT / "labels/gold.jsonl", taxonomy)
    train, dev = load_real(ROOT / "labels/real/paragraphs.jsonl", taxonomy)
    examples = load_examples(ROOT / "labels/examples.jsonl", taxonomy)
    model = warm_cache.load(key, taxonomy)
    if model is None:
        raise SystemExit(f"no cache entry {warm_cache.entry(key)}")
    return taxonomy, gold, train, dev, examples, model


def default_probe(model, gold, train, examples) -> PerThemeLogistic:
    """The default's probe on the model's embeddings: gold, examples and the real training part 3x, C = 2."""
    X = np.vstack(
        [model.embeddings(p.model_texts) for p in (gold, examples)] + [model.embeddings(train.model_texts)] * 3
    )
    y = np.vstack([gold.y, examples.y] + [train.y] * 3)
    return PerThemeLogistic(2.0, "balanced", 13).fit(X, y)


def logged_dev(store: str, run_name: str, taxonomy, dev) -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    """(paragraph ids, gold, the run's logged ensemble dev scores, the paragraphs' model texts), in logged order."""
    mlflow.set_tracking_uri(store)
    client = MlflowClient()
    experiment = client.get_experiment_by_name("theme-tagging")
    run = next(r for r in client.search_runs([experiment.experiment_id]) if r.info.run_name == run_name)
    ids, y_dev, ensemble, _ = logged_scores(client, run, "evaluation/dev_scores.json", taxonomy.ids)
    order = {pid: i for i, pid in enumerate(dev.ids)}
    return ids, y_dev, ensemble, [dev.model_texts[order[pid]] for pid in ids]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--key", required=True, help="a domain-stage cache entry (~/.cache/trainer/warm_start/KEY)")
    parser.add_argument("--run", required=True, help="a run whose logged dev scores are the ensemble's")
    parser.add_argument("--store", default=f"sqlite:///{ROOT}/mlruns/mlflow.db")
    parser.add_argument("--out", type=Path, default=ROOT / "experiments/results/head_probe.json")
    args = parser.parse_args()

    taxonomy, gold, train, dev, examples, tuned = load_parts(args.key)
    _, y_dev, ensemble, texts = logged_dev(args.store, args.run, taxonomy, dev)

    head = tuned.predict_proba(texts)
    probe = default_probe(tuned, gold, train, examples).predict_proba(tuned.embeddings(texts))
    results = {
        "ensemble (logged)": row("ensemble (logged)", y_dev, ensemble),
        "head": row("head", y_dev, head),
        "probe": row("probe", y_dev, probe),
        "head + probe": row("head + probe", y_dev, (head + probe) / 2),
        "ensemble + head (3:1)": row("ensemble + head (3:1)", y_dev, (3 * ensemble + head) / 4),
        "ensemble + head (1:1)": row("ensemble + head (1:1)", y_dev, (ensemble + head) / 2),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"key": args.key, "run": args.run, "results": results}, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
