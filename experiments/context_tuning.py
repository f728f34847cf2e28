"""Does the encoder read a paragraph better when domain tuning and tagging both give it the document's context? (issue 12)

context_probe.py showed that a title/heading prefix hurts an encoder never trained with one, and that context
embeddings beside the paragraph's add at most a point. Here the context enters the model's input in both phases:
each real paragraph is encoded as a BERT sentence pair, the paragraph as segment A and "title | nearest heading" as
segment B (at most 40 characters each), and the paragraph is embedded by mean-pooling its own tokens only, so the
context informs them through attention without swamping a short paragraph's vector. Examples have no document and
stay single segments. The `title` variant gives the title alone as segment B (the heading finder also picks up
page furniture).

From the same warm-start cache entry (the examples stage), the encoders are domain-tuned by one loop that follows
`bert.domain_epochs` (2 epochs on the real training part, a quarter of the examples replayed, BCE with capped
positive weights, layer-wise lr decay, frozen word embeddings, the default's training settings): without context
(the control) and with it. Each gets the default's probe (C = 2, balanced, real paragraphs 3x); dev is scored at
0.5 and at one shared cut-off tuned on the training part's document-grouped out-of-fold scores. Results accumulate
in --out by variant.

    python experiments/context_tuning.py --key <warm-start (examples stage) cache key> [--variants context title control]
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np
import torch
from context_probe import contexts, figures
from sklearn.metrics import f1_score
from sklearn.model_selection import GroupKFold
from torch import nn
from transformers import get_linear_schedule_with_warmup

from trainer import warm_cache
from trainer.config import load_config
from trainer.labels import load_examples, load_gold, load_real
from trainer.models.bert import length_grouped_batches, param_groups, pos_weights
from trainer.models.encoder import mean_pool
from trainer.models.linear import PerThemeLogistic
from trainer.taxonomy import load_taxonomy

ROOT = Path(__file__).resolve().parents[1]
CONTEXT_CHARS = 40


def context_strings(part, titles: dict[str, str], with_heading: bool = True) -> list[str]:
    title, heading = contexts(part.texts, part.groups, titles)
    if not with_heading:
        heading = [""] * len(title)
    out = []
    for t, h, p in zip(title, heading, part.texts):
        bits = [x.strip()[:CONTEXT_CHARS] for x in (t, h) if x and x.strip() and x.strip() != p.strip()]
        out.append(" | ".join(dict.fromkeys(bits)))
    return out


def encode(tokenizer, texts: list[str], ctx: list[str], max_length: int) -> dict[str, torch.Tensor]:
    """Pairs (paragraph, context) where there is context, single segments elsewhere; pooling mask = segment A."""
    rows = [tokenizer(t, c, truncation="longest_first", max_length=max_length) if c
            else tokenizer(t, truncation=True, max_length=max_length) for t, c in zip(texts, ctx)]  # fmt: skip
    batch = tokenizer.pad(rows, return_tensors="pt")
    batch["pool_mask"] = batch["attention_mask"] * (batch["token_type_ids"] == 0)
    return batch


def pooled(encoder, batch) -> torch.Tensor:
    hidden = encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                     token_type_ids=batch["token_type_ids"]).last_hidden_state  # fmt: skip
    return mean_pool(hidden, batch["pool_mask"])


def domain_tune(warm, texts, ctx, y, n_examples_from: int, training, seed: int = 13):
    """2 epochs as `bert.domain_epochs`: rows before `n_examples_from` are real, after it examples (25% replayed)."""
    net = copy.deepcopy(warm.net)
    rng = np.random.RandomState(seed)
    torch.manual_seed(seed)
    examples = np.arange(n_examples_from, len(texts))
    keep = rng.permutation(examples)[: int(round(0.25 * len(examples)))]
    train_rows = np.concatenate([np.arange(n_examples_from), keep])
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weights(y[train_rows], training.max_pos_weight))
    for param in net.encoder.embeddings.word_embeddings.parameters():
        param.requires_grad = False
    optimizer = torch.optim.AdamW(param_groups(net, training.learning_rate, 0.9, training.weight_decay))
    epochs, bs = 2, training.batch_size
    steps = epochs * int(np.ceil(len(train_rows) / bs))
    scheduler = get_linear_schedule_with_warmup(optimizer, int(training.warmup_share * steps), steps)
    lengths = [len(t) + len(c) for t, c in zip(texts, ctx)]
    for epoch in range(epochs):
        net.train()
        start, total = time.time(), 0.0
        for rows in length_grouped_batches(train_rows, lengths, bs, rng):
            batch = encode(warm.tokenizer, [texts[i] for i in rows], [ctx[i] for i in rows], 256)
            logits = net.head(net.dropout(pooled(net.encoder, batch)))
            loss = loss_fn(logits, torch.from_numpy(y[rows]))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            total += loss.item() * len(rows)
        print(f"  epoch {epoch + 1}: loss {total / len(train_rows):.4f} ({time.time() - start:.0f} s)", flush=True)
    net.eval()
    return net


@torch.inference_mode()
def embed_pairs(net, tokenizer, texts: list[str], ctx: list[str]) -> np.ndarray:
    out = np.zeros((len(texts), net.encoder.config.hidden_size), dtype=np.float32)
    order = np.argsort([len(t) + len(c) for t, c in zip(texts, ctx)], kind="stable")
    for start in range(0, len(order), 16):
        rows = order[start : start + 16]
        batch = encode(tokenizer, [texts[i] for i in rows], [ctx[i] for i in rows], 512)
        out[rows] = torch.nn.functional.normalize(pooled(net.encoder, batch), dim=-1).numpy()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--key", required=True, help="a warm-start (examples stage) cache entry")
    parser.add_argument(
        "--variants",
        nargs="+",
        default=["context", "control"],
        choices=["context", "title", "control"],
        help="context: title and heading; title: title only",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "experiments/results/context_tuning.json")
    args = parser.parse_args()

    taxonomy = load_taxonomy(ROOT / "labels/taxonomy.yaml")
    training = load_config(ROOT / "configs/default.yaml", []).training
    gold = load_gold(ROOT / "labels/gold.jsonl", taxonomy)
    train, dev = load_real(ROOT / "labels/real/paragraphs.jsonl", taxonomy)
    examples = load_examples(ROOT / "labels/examples.jsonl", taxonomy)
    docs = [json.loads(line) for line in (ROOT / "labels/real/documents.jsonl").open(encoding="utf-8")]
    titles = {d["doc"]: d["title"] for d in docs if d.get("title")}
    for report, text in zip(gold.groups, gold.texts):  # a seed report's title: its first paragraph
        titles.setdefault(report, text)
    warm = warm_cache.load(args.key, taxonomy)
    if warm is None:
        raise SystemExit(f"no cache entry {warm_cache.entry(args.key)}")

    results = {}
    for variant in args.variants:
        use = variant != "control"
        ctx = {name: (context_strings(part, titles, variant == "context") if use else [""] * len(part))
               for name, part in (("gold", gold), ("train", train), ("dev", dev))}  # fmt: skip
        ctx["examples"] = [""] * len(examples)
        start = time.time()
        net = domain_tune(warm, train.model_texts + examples.model_texts, ctx["train"] + ctx["examples"],
                          np.vstack([train.y, examples.y]).astype(np.float32), len(train), training)  # fmt: skip
        tuned_s = time.time() - start
        X = {name: embed_pairs(net, warm.tokenizer, part.model_texts, ctx[name])
             for name, part in (("gold", gold), ("examples", examples), ("train", train), ("dev", dev))}  # fmt: skip
        X_fixed, y_fixed = np.vstack([X["gold"], X["examples"]]), np.vstack([gold.y, examples.y])

        def probe(Xr, yr, X_fixed=X_fixed, y_fixed=y_fixed):
            return PerThemeLogistic(2.0, "balanced", 13).fit(np.vstack([X_fixed, np.tile(Xr, (3, 1))]),
                                                             np.vstack([y_fixed, np.tile(yr, (3, 1))]))  # fmt: skip

        oof = np.zeros(train.y.shape)
        for fit_rows, test_rows in GroupKFold(5).split(X["train"], groups=train.groups):
            oof[test_rows] = probe(X["train"][fit_rows], train.y[fit_rows]).predict_proba(X["train"][test_rows])
        shared = max(np.linspace(0.1, 0.9, 33), key=lambda g: f1_score(train.y, oof >= g, average="micro"))
        scores = probe(X["train"], train.y).predict_proba(X["dev"])
        results[variant] = {"dev_at_0.5": figures(dev.y, scores >= 0.5, taxonomy.ids),
                            "dev_shared": figures(dev.y, scores >= shared, taxonomy.ids), "shared_cut": float(shared),
                            "domain_tuning_s": round(tuned_s), "with_context": sum(bool(c) for c in ctx["dev"])}  # fmt: skip
        a, s = results[variant]["dev_at_0.5"], results[variant]["dev_shared"]
        print(
            f"{variant:8s} dev@0.5 {a['micro']:.3f}/{a['macro']:.3f}  shared {s['micro']:.3f}/{s['macro']:.3f}"
            f"  (domain tuning {tuned_s:.0f} s)",
            flush=True,
        )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        previous = json.loads(args.out.read_text(encoding="utf-8"))["results"] if args.out.exists() else {}
        args.out.write_text(
            json.dumps({"key": args.key, "results": {**previous, **results}}, indent=1), encoding="utf-8"
        )


if __name__ == "__main__":
    main()
