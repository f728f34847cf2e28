"""Which inference batch shape is fastest on this CPU: m3e-small encoder, fp32 and int8, seed paragraphs.

    python experiments/bench_batching.py [--repeats 3]

Sweeps the padded-token cap of `length_sorted_batches`, against fixed batches of 32, and prints paragraphs/s.
The encoder alone is timed (the heads cost microseconds), on the 132 gold paragraphs, 2 threads.
"""

from __future__ import annotations

import argparse
import time
import warnings

import torch
from torch import nn

from trainer.labels import DEFAULT_GOLD, load_gold
from trainer.models.encoder import length_sorted_batches, load_encoder, mean_pool
from trainer.taxonomy import load_taxonomy


@torch.inference_mode()
def encode(encoder, tokenizer, texts: list[str], batch_size: int, max_tokens: int) -> None:
    for _, batch in length_sorted_batches(texts, tokenizer, 256, batch_size=batch_size, max_tokens=max_tokens):
        mean_pool(encoder(**batch).last_hidden_state, batch["attention_mask"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(2)
    texts = load_gold(DEFAULT_GOLD, load_taxonomy()).texts
    tokenizer, encoder = load_encoder("moka-ai/m3e-small")
    encoder.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        int8 = torch.ao.quantization.quantize_dynamic(encoder, {nn.Linear}, dtype=torch.qint8)
    shapes = [(f"≤ 64 paragraphs, ≤ {cap} padded tokens", 64, cap) for cap in (512, 1024, 2048, 4096, 8192)]
    shapes.append(("32 paragraphs, no token cap (the earlier default)", 32, 10**9))
    print("| batches (length-sorted) | fp32 paragraphs/s | int8 paragraphs/s |")
    print("|---|---|---|")
    for label, batch_size, max_tokens in shapes:
        cells = []
        for model in (encoder, int8):
            encode(model, tokenizer, texts, batch_size, max_tokens)  # warm-up
            started = time.perf_counter()
            for _ in range(args.repeats):
                encode(model, tokenizer, texts, batch_size, max_tokens)
            cells.append(f"{len(texts) * args.repeats / (time.perf_counter() - started):.1f}")
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
