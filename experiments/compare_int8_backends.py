"""Which int8 path is faster here: PyTorch dynamic quantization or ONNX Runtime dynamic quantization?

    pip install onnxruntime onnx onnxscript   # only for this comparison; not a project dependency
    python experiments/compare_int8_backends.py

Times the m3e-small encoder + mean pooling + linear head (the shape of the default model's BERT part)
on the 132 seed paragraphs, the project's length-sorted batches (≤ 32 paragraphs, ≤ 512 padded tokens),
2 threads, each backend in fp32 and int8.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from trainer.labels import DEFAULT_GOLD, load_gold
from trainer.models.encoder import MeanPoolClassifier, length_sorted_batches, load_encoder
from trainer.taxonomy import load_taxonomy


def main() -> None:
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    torch.set_num_threads(2)
    texts = load_gold(DEFAULT_GOLD, load_taxonomy()).texts
    tokenizer, encoder = load_encoder("moka-ai/m3e-small")
    net = MeanPoolClassifier(encoder, 17, 0.1).eval()
    batches = list(length_sorted_batches(texts, tokenizer, 256, 32))

    def run_torch(model):
        with torch.inference_mode():
            return np.concatenate([model(**b).numpy() for _, b in batches])

    tmp = Path(tempfile.mkdtemp())
    sample = tokenizer(texts[:2], padding=True, return_tensors="pt")
    torch.onnx.export(net, (sample["input_ids"], sample["attention_mask"]), tmp / "fp32.onnx", dynamo=False,
                      input_names=["input_ids", "attention_mask"], output_names=["logits"], opset_version=17,
                      dynamic_axes={"input_ids": {0: "b", 1: "s"}, "attention_mask": {0: "b", 1: "s"}})  # fmt: skip
    quantize_dynamic(tmp / "fp32.onnx", tmp / "int8.onnx", weight_type=QuantType.QInt8)

    def ort_runner(path):
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = 2, 1
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        feed = [{k: v.numpy() for k, v in b.items()} for _, b in batches]
        return lambda: np.concatenate([session.run(None, f)[0] for f in feed])

    quantized = torch.ao.quantization.quantize_dynamic(net, {torch.nn.Linear}, dtype=torch.qint8)
    runners = {"torch fp32": lambda: run_torch(net), "torch int8 (dynamic)": lambda: run_torch(quantized),
               "onnxruntime fp32": ort_runner(tmp / "fp32.onnx"), "onnxruntime int8 (dynamic)": ort_runner(tmp / "int8.onnx")}  # fmt: skip
    result = {}
    for name, fn in runners.items():
        fn()
        started = time.perf_counter()
        for _ in range(3):
            fn()
        result[name] = round(3 * len(texts) / (time.perf_counter() - started), 1)
    print(json.dumps({"paragraphs_per_second": result}, indent=1))


if __name__ == "__main__":
    main()
