"""Does SetFit-style contrastive tuning of the encoder help the probe? (issue 12, a listed candidate)

Takes a domain-stage cache entry (warm start on the examples + domain tuning on the real training part, as a
default run makes it), tunes the encoder further on sentence pairs as SetFit does (cosine similarity of the
mean-pooled embeddings regressed to 1 for pairs that share a theme or both have none, to 0 for pairs with
disjoint themes; pairs drawn from the seeds' gold, the real training part and the examples), then fits the
default's probe (per-theme logistic regression, C = 2, balanced; real training part 3x) on the new embeddings and
scores the dev part over a range of shared cut-offs, beside the same probe on the encoder before the pair stage
(`head_probe.py` prints that row as "probe").

    python experiments/contrastive_probe.py --key <domain-stage cache key> [--pairs 2000] [--epochs 1]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from head_probe import default_probe, load_parts, row

from trainer.models.encoder import mean_pool, set_threads

ROOT = Path(__file__).resolve().parents[1]


def pairs(y: np.ndarray, n: int, rng: np.random.RandomState) -> list[tuple[int, int, float]]:
    """n pairs, half similar (a shared theme, or both without one), half dissimilar (disjoint themes)."""
    out: list[tuple[int, int, float]] = []
    want = {1.0: n // 2, 0.0: n - n // 2}
    while want[1.0] or want[0.0]:
        a, b = rng.randint(len(y), size=2)
        shared, either = (y[a] & y[b]).any(), (y[a] | y[b]).any()
        label = 1.0 if shared or not either else 0.0 if not shared else None
        if a != b and label is not None and want[label]:
            out.append((a, b, label))
            want[label] -= 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--key", required=True, help="a domain-stage cache entry (~/.cache/trainer/warm_start/KEY)")
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--out", type=Path, default=ROOT / "experiments/results/contrastive_probe.json")
    args = parser.parse_args()

    _, gold, train, dev, examples, model = load_parts(args.key)
    set_threads(0)
    texts = gold.model_texts + train.model_texts + examples.model_texts
    y = np.vstack([gold.y, train.y, examples.y]).astype(bool)
    rng = np.random.RandomState(13)
    torch.manual_seed(13)
    encoder, tokenizer = model.net.encoder, model.tokenizer
    encoder.train()
    optimizer = torch.optim.AdamW([p for p in encoder.parameters() if p.requires_grad], lr=args.lr)
    started = time.time()
    for epoch in range(args.epochs):
        batch_pairs = pairs(y, args.pairs, rng)
        for start in range(0, len(batch_pairs), 16):
            chunk = batch_pairs[start : start + 16]
            enc = tokenizer([texts[a] for a, _, _ in chunk] + [texts[b] for _, b, _ in chunk], truncation=True,
                            max_length=256, padding=True, return_tensors="pt")  # fmt: skip
            pooled = mean_pool(encoder(**enc).last_hidden_state, enc["attention_mask"])
            left, right = pooled[: len(chunk)], pooled[len(chunk) :]
            target = torch.tensor([label for _, _, label in chunk])
            loss = torch.nn.functional.mse_loss(torch.cosine_similarity(left, right), target)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        print(f"pair epoch {epoch + 1}: last loss {loss.item():.4f}, {time.time() - started:.0f} s", flush=True)
    encoder.eval()
    model._embeddings = {}
    probe = default_probe(model, gold, train, examples).predict_proba(model.embeddings(dev.model_texts))
    result = row(f"probe after {args.pairs} pairs x {args.epochs}", dev.y, probe)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"key": args.key, "pairs": args.pairs, "epochs": args.epochs,
                                    "seconds": round(time.time() - started), "dev": result}, indent=1),
                        encoding="utf-8")  # fmt: skip


if __name__ == "__main__":
    main()
