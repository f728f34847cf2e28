"""Seconds per fine-tuning step of the base model with the bottom layers frozen (`bert.freeze_layers`).

The warm start and the domain stage are most of a fresh default run (on an AVX2-only CPU, 16.5 and 6.7 of about
28 minutes). Freezing the embeddings and the bottom N encoder layers removes their backward pass. This times the
same batches (16 team-written examples each, cut at 256 tokens as the default's train_max_length) under each
setting, on this CPU, in fp32 (as `training.precision: auto` runs on a CPU without native bf16):

    python experiments/bench_train_step.py [--freeze -1 0 1 2] [--steps 10]

-1 is the default (only the word-embedding matrix fixed: `freeze_embeddings: true`); 0 fixes all embeddings.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trainer.labels import DEFAULT_EXAMPLES, load_examples  # noqa: E402
from trainer.models.encoder import MeanPoolClassifier, load_encoder, set_threads  # noqa: E402
from trainer.taxonomy import load_taxonomy  # noqa: E402


def seconds_per_step(freeze: int, batches: list[list[str]], base_model: str, n_themes: int) -> float:
    tokenizer, encoder = load_encoder(base_model)
    net = MeanPoolClassifier(encoder, n_themes, 0.1).train()
    frozen = (
        [encoder.embeddings.word_embeddings] if freeze < 0 else [encoder.embeddings, *encoder.encoder.layer[:freeze]]
    )
    for module in frozen:
        for param in module.parameters():
            param.requires_grad = False
    optimizer = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=1e-4)
    loss_fn = nn.BCEWithLogitsLoss()
    times = []
    for texts in batches:
        batch = tokenizer(texts, truncation=True, max_length=256, padding=True, return_tensors="pt")
        start = time.perf_counter()
        loss = loss_fn(net(batch["input_ids"], batch["attention_mask"]), torch.zeros(len(texts), n_themes))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
        times.append(time.perf_counter() - start)
    return float(np.mean(times[2:]))  # the first two steps warm up allocators and kernels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--freeze", type=int, nargs="*", default=[-1, 0, 1, 2])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--base-model", default="moka-ai/m3e-small")
    args = parser.parse_args()
    set_threads(0)
    taxonomy = load_taxonomy()
    texts = load_examples(DEFAULT_EXAMPLES, taxonomy).model_texts
    rows = np.random.RandomState(0).permutation(len(texts))[: 16 * (args.steps + 2)]
    batches = [[texts[i] for i in rows[s : s + 16]] for s in range(0, len(rows), 16)]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {torch.backends.cpu.get_cpu_capability()}")
    print("| frozen | seconds per step | relative |\n|---|---|---|")
    base = None
    for freeze in args.freeze:
        seconds = seconds_per_step(freeze, batches, args.base_model, len(taxonomy))
        base = base or seconds
        what = "word embeddings (default)" if freeze < 0 else f"embeddings + {freeze} layers"
        print(f"| {what} | {seconds:.2f} | {base / seconds:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
