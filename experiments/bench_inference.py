"""Inference speed on 2 CPU cores: naive fp32 vs length-sorted fp32 vs length-sorted int8, in one run.

    python experiments/bench_inference.py [MODEL_URI] [--repeats 3]

MODEL_URI defaults to models:/theme-tagger@candidate in the project's embedded store. The texts are
the 132 paragraphs of the five seed reports. Quality of int8 is read from the training run itself,
which scored every CV fold with an int8 copy (evaluation.int8_check) -- out-of-fold F1 either way.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from trainer import tracking
from trainer.labels import DEFAULT_GOLD, load_gold
from trainer.tagging import load_bundle
from trainer.taxonomy import load_taxonomy

RESULTS = Path(__file__).resolve().parent / "results"


def bert_members(model) -> list:
    members = [model, *getattr(model, "members", [])]
    return [m for m in members if getattr(m, "family", "") == "bert"]


def naive_fp32(model, texts: list[str], batch_size: int) -> None:
    """Batches in document order, padded to the longest paragraph of each batch (what a plain loop does)."""
    for bert in bert_members(model):
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                batch = bert.tokenizer(texts[start : start + batch_size], truncation=True, padding="max_length",
                                       max_length=bert.spec.max_length, return_tensors="pt")  # fmt: skip
                bert.net.encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - started) / repeats


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", nargs="?", default="models:/theme-tagger@candidate")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(2)
    texts = load_gold(DEFAULT_GOLD, load_taxonomy()).texts
    fp32 = load_bundle(args.model, int8=False, tracking_uri=None)
    int8 = load_bundle(args.model, int8=True, tracking_uri=None)
    rows = {
        "naive fp32 (document order, padded to max_length; BERT forward only)": timed(
            lambda: naive_fp32(fp32.model, texts, args.batch_size), args.repeats),
        "fp32, length-sorted dynamic batches (whole model)": timed(
            lambda: fp32.model.predict_proba(texts, batch_size=args.batch_size), args.repeats),
        "int8 dynamic quantization, length-sorted (whole model)": timed(
            lambda: int8.model.predict_proba(texts, batch_size=args.batch_size), args.repeats),
    }  # fmt: skip
    agree = np.mean((fp32.scores(texts) >= fp32.thresholds) == (int8.scores(texts) >= int8.thresholds))
    result = {"model": args.model, "paragraphs": len(texts), "threads": torch.get_num_threads(),
              "paragraphs_per_second": {k: round(len(texts) / v, 1) for k, v in rows.items()},
              "int8_vs_fp32_label_agreement": round(float(agree), 4)}  # fmt: skip
    if args.model.startswith(("models:/", "runs:/")):
        from mlflow.tracking import MlflowClient

        uri = tracking.connect()
        client = MlflowClient(uri, registry_uri=uri)
        ref = args.model[len("models:/") :] if args.model.startswith("models:/") else ""
        version = None
        if "@" in ref:
            version = client.get_model_version_by_alias(*ref.split("@"))
        elif "/" in ref:
            version = client.get_model_version(*ref.split("/"))
        if version is not None:
            run = client.get_run(version.run_id)
            result["oof"] = {k: round(v, 4) for k, v in run.data.metrics.items()
                             if k in ("cv_micro_f1", "cv_macro_f1", "cv_int8_micro_f1", "cv_int8_macro_f1")}  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "inference.json").write_text(json.dumps(result, ensure_ascii=False, indent=1))
    print(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
