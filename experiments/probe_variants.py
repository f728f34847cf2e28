"""Two cheap changes to the BERT member that cost nothing at tagging time, scored on the dev part (issue 12).

1. A small neural network (one hidden layer, sklearn's MLPClassifier, multi-label) instead of the per-theme
   logistic probe, on the same embeddings: can a non-linear read of the same vectors separate the themes better?
2. WiSE-FT-style weight interpolation: the encoder's weights moved back towards the pretrained m3e-small's (or
   another cached encoder's), alpha * tuned + (1 - alpha) * anchor, then the default probe. Interpolation is known
   to help fine-tuned models on data unlike their training data, which is what the dev part is.

Each variant is scored alone and mixed into a run's logged ensemble dev scores in place of the run's own probe (the
TF-IDF and keyword part is recovered as 3 x ensemble - probe), over a range of shared cut-offs (as
head_probe.py does; nothing is tuned on dev).

    python experiments/probe_variants.py --key <domain-stage cache key> --run default_b3 [--alphas 0.8 0.6]
        [--anchor <another cache key>]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from head_probe import default_probe, load_parts, logged_dev, row

from trainer import warm_cache
from trainer.models.encoder import load_encoder

ROOT = Path(__file__).resolve().parents[1]


def mlp_probe(model, gold, train, examples, seed: int):
    """One hidden layer of 512, alpha 0.01, on the default probe's rows (real training part 3x)."""
    from sklearn.neural_network import MLPClassifier

    X = np.vstack(
        [model.embeddings(p.model_texts) for p in (gold, examples)] + [model.embeddings(train.model_texts)] * 3
    )
    y = np.vstack([gold.y, examples.y] + [train.y] * 3)
    return MLPClassifier(hidden_layer_sizes=(512,), alpha=1e-2, max_iter=200, random_state=seed).fit(X, y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--key", required=True, help="a domain-stage cache entry (~/.cache/trainer/warm_start/KEY)")
    parser.add_argument("--run", required=True, help="the run whose encoder that is (its logged dev scores)")
    parser.add_argument("--alphas", type=float, nargs="*", default=[0.8, 0.6])
    parser.add_argument("--anchor", action="append", default=[], help="another cache key to interpolate towards")
    parser.add_argument("--base-model", default="moka-ai/m3e-small", help="the pretrained encoder the run started from")
    parser.add_argument("--store", default=f"sqlite:///{ROOT}/mlruns/mlflow.db")
    parser.add_argument("--out", type=Path, default=ROOT / "experiments/results/probe_variants.json")
    args = parser.parse_args()

    taxonomy, gold, train, dev, examples, tuned = load_parts(args.key)
    _, y_dev, ensemble, texts = logged_dev(args.store, args.run, taxonomy, dev)

    results = {}
    probe = default_probe(tuned, gold, train, examples).predict_proba(tuned.embeddings(texts))
    others = 3 * ensemble - probe  # the run's TF-IDF and keyword members, summed
    results["ensemble (logged)"] = row("ensemble (logged)", y_dev, ensemble)
    results["probe"] = row("probe", y_dev, probe)
    for seed in (13, 14):
        mlp = mlp_probe(tuned, gold, train, examples, seed).predict_proba(tuned.embeddings(texts))
        results[f"mlp (seed {seed})"] = row(f"mlp (seed {seed})", y_dev, mlp)
        results[f"ensemble, mlp for probe (seed {seed})"] = row("  ensemble, mlp for probe", y_dev, (others + mlp) / 3)

    # (a cached model's spec names its cache folder as base model, hence --base-model)
    tuned_state = {k: v.clone() for k, v in tuned.net.encoder.state_dict().items()}
    anchors = {f"pretrained {args.base_model}": load_encoder(args.base_model)[1].state_dict()}
    for key in args.anchor:
        anchors[key[:8]] = warm_cache.load(key, taxonomy).net.encoder.state_dict()
    for name, anchor in anchors.items():
        for alpha in args.alphas:
            mixed = {
                k: alpha * v + (1 - alpha) * anchor[k] if v.is_floating_point() else v for k, v in tuned_state.items()
            }
            tuned.net.encoder.load_state_dict(mixed)
            tuned._embeddings = {}  # the embedding cache belongs to the weights it was computed with
            scores = default_probe(tuned, gold, train, examples).predict_proba(tuned.embeddings(texts))
            label = f"{alpha:g} tuned + {1 - alpha:g} {name}"
            results[label] = row(label, y_dev, scores)
            results[f"ensemble, {label}"] = row("  ensemble with it", y_dev, (others + scores) / 3)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"key": args.key, "run": args.run, "results": results}, indent=1))


if __name__ == "__main__":
    main()
