"""Does a paragraph's int8 embedding depend on the paragraphs it is batched with, and what do batches of one cost?

Eager dynamic quantization scales each Linear layer's input by the whole batch's range, so a paragraph's int8
scores move a little with its batch neighbours ("Tagging at archive scale" in experiments/README.md). Batches of one
paragraph remove that (and padding). This embeds the first N real paragraphs twice per setting, in file order and
shuffled, and prints paragraphs/s and the largest embedding difference between the two orders:

    python experiments/int8_batch_dependence.py --model models:/theme-tagger/2 [--paragraphs 1200] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trainer.models.encoder import embed, set_threads  # noqa: E402
from trainer.tagging import load_bundle  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--tracking-uri", default=f"sqlite:///{ROOT}/mlruns/mlflow.db")
    parser.add_argument("--paragraphs", type=int, default=1200)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    bundle = load_bundle(args.model, True, args.tracking_uri)
    bert = next(m for m in getattr(bundle.model, "members", [bundle.model]) if getattr(m, "family", "") == "bert")
    set_threads(0)
    lines = (ROOT / "labels/real/paragraphs.jsonl").open(encoding="utf-8")
    texts = [json.loads(line)["text"] for line in lines][: args.paragraphs]
    order = np.random.RandomState(0).permutation(len(texts))

    def run(batch_size: int, rows) -> tuple[np.ndarray, float]:
        start = time.perf_counter()
        vectors = embed([texts[i] for i in rows], bert.tokenizer, bert.net.encoder, bert.spec.max_length, batch_size)
        return vectors, time.perf_counter() - start

    run(32, range(50))  # warm-up
    print("| batches | paragraphs/s (each repeat) | max embedding difference, file order vs shuffled |")
    print("|---|---|---|")
    for batch_size, name in [(32, "length-sorted, <= 512 padded tokens (today)"), (1, "one paragraph each")]:
        speeds, vectors = [], None
        for _ in range(args.repeats):
            vectors, seconds = run(batch_size, range(len(texts)))
            speeds.append(f"{len(texts) / seconds:.1f}")
        shuffled, _ = run(batch_size, order)
        print(f"| {name} | {', '.join(speeds)} | {np.abs(shuffled - vectors[order]).max():.4f} |", flush=True)


if __name__ == "__main__":
    main()
