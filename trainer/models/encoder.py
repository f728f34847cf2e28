"""Shared pieces for the BERT families: loading, length-sorted batching, mean pooling."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from trainer.base_model import resolve_base_model
from trainer.errors import UserError
from trainer.progress import stage


def set_threads(threads: int) -> None:
    """`threads`, else OMP_NUM_THREADS when set (Spark gives each Python worker one core this way), else all cores.

    Ignoring the environment oversubscribes: two Spark workers at two threads each on two cores ran 2.7x slower
    than one process (experiments/README, "Tagging at archive scale")."""
    torch.set_num_threads(threads or _threads_from_environment() or os.cpu_count() or 1)


def _threads_from_environment() -> int:
    try:
        return max(int(os.environ.get("OMP_NUM_THREADS", "").split(",")[0]), 0)
    except ValueError:
        return 0


def load_encoder(name_or_path: str):
    """(tokenizer, encoder) for a base model name or folder, as the config gives it."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    source = resolve_base_model(name_or_path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        encoder = AutoModel.from_pretrained(source)
    except OSError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise UserError(
            f"model.base_model: cannot load '{name_or_path}' ({first}); use a local folder, "
            "'moka-ai/m3e-small', or a hub id when online"
        ) from None
    return tokenizer, encoder


# Padded tokens per inference batch. Measured on 2 CPU cores (experiments/bench_batching.py): small batches stay in
# cache, so 512 tokens runs 1.2x (fp32) to 1.45x (int8) faster than batches of 32 paragraphs.
MAX_BATCH_TOKENS = 512


def length_sorted_batches(
    texts: list[str], tokenizer, max_length: int, batch_size: int = 32, max_tokens: int = MAX_BATCH_TOKENS
) -> Iterator[tuple[np.ndarray, dict[str, torch.Tensor]]]:
    """Batches of similar length (little padding), with the original row indices of each.

    Texts are tokenized once and sorted by token count; a batch takes at most `batch_size` texts and at most
    `max_tokens` padded tokens (a single longer text still forms a batch of its own).
    """
    ids = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"] if len(texts) else []
    order = np.argsort([len(i) for i in ids], kind="stable")
    start = 0
    while start < len(order):
        end = start + 1
        while end < len(order) and end - start < batch_size and (end - start + 1) * len(ids[order[end]]) <= max_tokens:
            end += 1
        rows = order[start:end]
        encoded = tokenizer.pad({"input_ids": [ids[i] for i in rows]}, return_tensors="pt")
        yield rows, {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}
        start = end


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


class MeanPoolClassifier(nn.Module):
    """Encoder + mean pooling (how m3e was trained to embed) + a linear multi-label head."""

    def __init__(self, encoder: nn.Module, n_labels: int, dropout: float):
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, n_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.head(self.dropout(mean_pool(hidden, attention_mask)))


@torch.inference_mode()
def embed(texts: list[str], tokenizer, encoder: nn.Module, max_length: int, batch_size: int = 32) -> np.ndarray:
    """Mean-pooled, L2-normalised sentence embeddings."""
    encoder.eval()
    out = np.zeros((len(texts), encoder.config.hidden_size), dtype=np.float32)
    with stage("embedding", total=len(texts), unit="paragraph", transient=True) as bar:
        for rows, batch in length_sorted_batches(texts, tokenizer, max_length, batch_size):
            pooled = mean_pool(encoder(**batch).last_hidden_state, batch["attention_mask"])
            out[rows] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
            bar.update(len(rows))
    return out
