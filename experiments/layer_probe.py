"""Does the probe read more from several encoder layers than from the last one? (issue 12)

The default's probe sees one mean-pooled vector from the encoder's last layer. Lower layers keep more of the
paragraph's surface (names of organs, document words) that fine-tuning on themes may wash out; concatenating their
mean-pooled vectors costs nothing at tagging time (the same forward pass). This embeds the seeds' gold, the
examples, the real training part and the dev part once with every hidden state, fits the default's probe (C = 2,
balanced, real paragraphs 3x) on several layer combinations, and scores the dev part at 0.5, at per-theme cut-offs
and at one shared cut-off tuned on the training part's 5-fold document-grouped out-of-fold scores (optimistic after
domain tuning, so dev decides). A lower layer alone would also tag faster (the layers above it need not run);
`--max-length` shows what shorter inputs cost.

    python experiments/layer_probe.py --key <domain-stage cache key>
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from context_probe import figures, tuned_cutoffs
from head_probe import load_parts
from sklearn.metrics import f1_score
from sklearn.model_selection import GroupKFold

from trainer.models.encoder import length_sorted_batches, mean_pool
from trainer.models.linear import PerThemeLogistic

ROOT = Path(__file__).resolve().parents[1]
COMBINATIONS = {"last (the default)": (4,), "3+4": (3, 4), "2+3+4": (2, 3, 4), "1..4": (1, 2, 3, 4),
                "mean of 1..4": "mean", "0 (embeddings)+4": (0, 4), "3 only": (3,), "2 only": (2,)}  # fmt: skip


@torch.inference_mode()
def layer_embeddings(texts: list[str], tokenizer, encoder, max_length: int) -> np.ndarray:
    """(texts, layers + 1, hidden): each hidden state mean-pooled and L2-normalised, as `embed` does for the last."""
    encoder.eval()
    n_states = encoder.config.num_hidden_layers + 1
    out = np.zeros((len(texts), n_states, encoder.config.hidden_size), dtype=np.float32)
    for rows, batch in length_sorted_batches(texts, tokenizer, max_length, 32):
        states = encoder(**batch, output_hidden_states=True).hidden_states
        for k, hidden in enumerate(states):
            out[rows, k] = torch.nn.functional.normalize(mean_pool(hidden, batch["attention_mask"]), dim=-1).numpy()
    return out


def select(states: np.ndarray, combination) -> np.ndarray:
    if combination == "mean":
        merged = states[:, 1:].mean(axis=1)
        return merged / np.linalg.norm(merged, axis=1, keepdims=True)
    return np.concatenate([states[:, k] for k in combination], axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--key", required=True, help="a domain-stage cache entry (~/.cache/trainer/warm_start/KEY)")
    parser.add_argument("--max-length", type=int, default=0, help="truncate inputs (default: the model's max_length)")
    parser.add_argument("--out", type=Path, default=ROOT / "experiments/results/layer_probe.json")
    args = parser.parse_args()

    taxonomy, gold, train, dev, examples, model = load_parts(args.key)
    enc, max_length = model.net.encoder, args.max_length or model.spec.max_length
    states = {name: layer_embeddings(part.model_texts, model.tokenizer, enc, max_length)
              for name, part in (("gold", gold), ("examples", examples), ("train", train), ("dev", dev))}  # fmt: skip
    y_fixed = np.vstack([gold.y, examples.y])
    results = {}
    for name, combination in COMBINATIONS.items():
        Xg, Xe, Xt, Xd = (select(states[p], combination) for p in ("gold", "examples", "train", "dev"))
        X_fixed = np.vstack([Xg, Xe])

        def probe(X, y, X_fixed=X_fixed):
            return PerThemeLogistic(2.0, "balanced", 13).fit(np.vstack([X_fixed, np.tile(X, (3, 1))]),
                                                             np.vstack([y_fixed, np.tile(y, (3, 1))]))  # fmt: skip

        oof = np.zeros(train.y.shape)
        for fit_rows, test_rows in GroupKFold(5).split(Xt, groups=train.groups):
            oof[test_rows] = probe(Xt[fit_rows], train.y[fit_rows]).predict_proba(Xt[test_rows])
        cut = tuned_cutoffs(oof, train.y)
        shared = max(np.linspace(0.1, 0.9, 33), key=lambda g: f1_score(train.y, oof >= g, average="micro"))
        scores = probe(Xt, train.y).predict_proba(Xd)
        results[name] = {
            "dev_at_0.5": figures(dev.y, scores >= 0.5, taxonomy.ids),
            "dev_tuned": figures(dev.y, scores >= cut, taxonomy.ids),
            "dev_shared": figures(dev.y, scores >= shared, taxonomy.ids),
            "shared_cut": float(shared),
        }
        a, t, s = (results[name][k] for k in ("dev_at_0.5", "dev_tuned", "dev_shared"))
        print(
            f"{name:22s} dev@0.5 {a['micro']:.3f}/{a['macro']:.3f}  per-theme {t['micro']:.3f}/{t['macro']:.3f}"
            f"  shared {s['micro']:.3f}/{s['macro']:.3f}",
            flush=True,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"key": args.key, "max_length": max_length, "results": results}, indent=1), encoding="utf-8"
    )


if __name__ == "__main__":
    main()
