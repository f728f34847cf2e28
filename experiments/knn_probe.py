"""Would a nearest-neighbour vote over the domain-tuned embeddings add to the ensemble? (issue 12)

A paragraph from an unseen document often has a near twin among the real training paragraphs (the same stock
sentence about 人大 supervision or a 法律顾问 programme in another county's report); a k-nearest-neighbour vote reads
that twin's labels directly, where the linear probe averages over every paragraph of a theme. This scores, on the
dev part and over a range of shared cut-offs (as head_probe.py does): the kNN vote alone, the probe alone, and the
kNN vote mixed into a run's logged ensemble dev scores as a fourth member.

    python experiments/knn_probe.py --key <domain-stage cache key> --run <run name> [--k 10]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from head_probe import default_probe, load_parts, logged_dev, row

ROOT = Path(__file__).resolve().parents[1]


def knn_scores(X_query: np.ndarray, X_ref: np.ndarray, y_ref: np.ndarray, k: int) -> np.ndarray:
    """Similarity-weighted share of the k nearest reference paragraphs (cosine; embeddings are L2-normalised)."""
    sims = X_query @ X_ref.T
    top = np.argpartition(-sims, k, axis=1)[:, :k]
    weights = np.clip(np.take_along_axis(sims, top, axis=1), 0, None)
    votes = np.einsum("qk,qkt->qt", weights, y_ref[top])
    return votes / np.maximum(weights.sum(axis=1, keepdims=True), 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--key", required=True, help="a domain-stage cache entry (~/.cache/trainer/warm_start/KEY)")
    parser.add_argument("--run", required=True, help="a run whose logged dev scores are the ensemble's")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--store", default=f"sqlite:///{ROOT}/mlruns/mlflow.db")
    parser.add_argument("--out", type=Path, default=ROOT / "experiments/results/knn_probe.json")
    args = parser.parse_args()

    taxonomy, gold, train, dev, examples, tuned = load_parts(args.key)
    _, y_dev, ensemble, texts = logged_dev(args.store, args.run, taxonomy, dev)

    X_dev = tuned.embeddings(texts)
    X_ref = np.vstack([tuned.embeddings(p.model_texts) for p in (gold, train, examples)])
    y_ref = np.vstack([gold.y, train.y, examples.y]).astype(np.float32)
    knn = knn_scores(X_dev, X_ref, y_ref, args.k)
    probe = default_probe(tuned, gold, train, examples).predict_proba(X_dev)
    results = {
        "ensemble (logged)": row("ensemble (logged)", y_dev, ensemble),
        f"knn (k={args.k})": row(f"knn (k={args.k})", y_dev, knn),
        "probe": row("probe", y_dev, probe),
        "probe + knn": row("probe + knn", y_dev, (probe + knn) / 2),
        "ensemble + knn (3:1)": row("ensemble + knn (3:1)", y_dev, (3 * ensemble + knn) / 4),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"key": args.key, "run": args.run, "k": args.k, "results": results}, indent=1))


if __name__ == "__main__":
    main()
