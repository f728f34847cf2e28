"""Fine-tune a Chinese BERT (default m3e-small) for multi-label theme classification.

A plain PyTorch loop over transformers pieces: sigmoid/BCE with optional
per-theme positive weights, layer-wise learning-rate decay, linear warm-up and
decay, optional early stopping on a held-out share of the training rows, and
an optional warm start from a model already fitted on the team-written examples.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from trainer.config import BertModel as BertSpec
from trainer.config import TrainingConfig
from trainer.errors import UserError
from trainer.models import EpochCallback, read_manifest, write_manifest
from trainer.models.encoder import MeanPoolClassifier, embed, length_sorted_batches, load_encoder, set_threads
from trainer.models.linear import PerThemeLogistic
from trainer.precision import resolve_precision
from trainer.progress import stage
from trainer.taxonomy import Taxonomy

log = logging.getLogger(__name__)


def pos_weights(y: np.ndarray, cap: float) -> torch.Tensor:
    pos = y.sum(0)
    neg = len(y) - pos
    weight = np.where(pos > 0, neg / np.maximum(pos, 1), 1.0)
    return torch.tensor(np.clip(weight, 1.0, cap), dtype=torch.float32)


def length_grouped_batches(rows: np.ndarray, lengths: list[int], batch_size: int,
                           rng: np.random.RandomState) -> list[np.ndarray]:  # fmt: skip
    """Shuffled batches of similar-length rows: little padding, still random order (as HF group_by_length)."""
    shuffled = rng.permutation(rows)
    mega = batch_size * 32
    batches = []
    for start in range(0, len(shuffled), mega):
        chunk = sorted(shuffled[start : start + mega], key=lambda i: lengths[i])
        batches.extend(np.array(chunk[i : i + batch_size]) for i in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def param_groups(model: MeanPoolClassifier, lr: float, decay: float, weight_decay: float) -> list[dict]:
    """Top encoder layer at lr, each lower layer `decay` times less, embeddings lowest; head at lr."""
    layers = model.encoder.encoder.layer
    n = len(layers)
    groups = [{"params": list(model.head.parameters()), "lr": lr}]
    for i, layer in enumerate(layers):
        groups.append({"params": list(layer.parameters()), "lr": lr * decay ** (n - 1 - i)})
    rest = [p for name, p in model.encoder.named_parameters() if not name.startswith("encoder.layer.")]
    groups.append({"params": rest, "lr": lr * decay**n})
    for g in groups:
        g["params"] = [p for p in g["params"] if p.requires_grad]
    for g in groups:
        g["weight_decay"] = weight_decay
    return groups


def load_encoder_net(model: BertThemeModel) -> tuple:
    tokenizer, encoder = load_encoder(model.spec.base_model)
    return tokenizer, MeanPoolClassifier(encoder, model.n_themes, model.spec.dropout)


class BertThemeModel:
    family = "bert"

    def __init__(
        self, spec: BertSpec, training: TrainingConfig, n_themes: int, init_from: BertThemeModel | None = None
    ):
        self.spec, self.training, self.n_themes = spec, training, n_themes
        self.init_from = init_from
        self.tokenizer = None
        self.net: MeanPoolClassifier | None = None
        self.quantized = False
        self.warm_texts: frozenset[str] = frozenset()
        self.probe: PerThemeLogistic | None = None
        self._embeddings: dict[str, np.ndarray] = {}

    def _fresh_net(self) -> None:
        if self.init_from is not None:
            self.tokenizer = self.init_from.tokenizer
            self.net = copy.deepcopy(self.init_from.net)
            return
        self.tokenizer, encoder = load_encoder(self.spec.base_model)
        torch.manual_seed(self.training.seed)
        self.net = MeanPoolClassifier(encoder, self.n_themes, self.spec.dropout)

    def _loss_on(self, texts, y, loss_fn) -> float:
        self.net.eval()
        total = 0.0
        with torch.inference_mode():
            for rows, batch in length_sorted_batches(texts, self.tokenizer, self.spec.max_length, 32):
                total += loss_fn(self.net(**batch), torch.tensor(y[rows], dtype=torch.float32)).item() * len(rows)
        return total / max(len(texts), 1)

    def embeddings(self, texts: list[str]) -> np.ndarray:
        """Mean-pooled embeddings from the current encoder, cached by text while the encoder is frozen."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._embeddings]
        if missing:
            vectors = embed(missing, self.tokenizer, self.net.encoder, self.spec.max_length)
            self._embeddings.update(zip(missing, vectors))
        return np.stack([self._embeddings[t] for t in texts])

    def _fit_probe(self, texts: list[str], y: np.ndarray) -> BertThemeModel:
        """Linear probe: the (warm-started) encoder stays fixed; a logistic regression per theme learns the labels."""
        warm = self.init_from
        self.tokenizer, self.net = (warm.tokenizer, warm.net) if warm is not None else load_encoder_net(self)
        self._embeddings = warm._embeddings if warm is not None else {}
        weight = "balanced" if self.training.class_weighting == "balanced" else None
        self.probe = PerThemeLogistic(self.spec.probe_C, weight, self.training.seed).fit(self.embeddings(texts), y)
        self.init_from = None
        return self

    def fit(self, texts: list[str], y: np.ndarray, on_epoch: EpochCallback | None = None,
            epochs: int | None = None, label: str = "fine-tuning") -> BertThemeModel:  # fmt: skip
        """Fine-tune (or fit the probe); `label` names the stage in progress bars and lines, e.g. "warm start"."""
        set_threads(self.training.threads)
        if self.spec.head == "probe" and epochs is None:
            return self._fit_probe(texts, np.asarray(y))
        self._fresh_net()
        y = np.asarray(y, dtype=np.float32)
        rng = np.random.RandomState(self.training.seed)
        torch.manual_seed(self.training.seed)
        train_rows = np.arange(len(texts))
        val_rows = np.array([], dtype=int)
        stopping = self.training.early_stopping
        if stopping.enabled and len(texts) >= 10:
            shuffled = rng.permutation(len(texts))
            n_val = max(1, int(round(stopping.validation_share * len(texts))))
            val_rows, train_rows = shuffled[:n_val], shuffled[n_val:]
        if self.init_from is not None and self.spec.warm_start_replay < 1:
            # After a warm start, only a share of the warm-start rows is replayed (against forgetting).
            seen = self.init_from.warm_texts
            old = np.array([i for i in train_rows if texts[i] in seen], dtype=int)
            keep = rng.permutation(old)[: int(round(self.spec.warm_start_replay * len(old)))]
            train_rows = np.concatenate([np.array([i for i in train_rows if texts[i] not in seen], dtype=int), keep])
        weights = pos_weights(y[train_rows], self.training.max_pos_weight)
        if self.training.class_weighting == "none":
            weights = torch.ones_like(weights)
        loss_fn = nn.BCEWithLogitsLoss(pos_weight=weights)
        epochs = epochs or self.training.epochs
        batch_size = self.training.batch_size
        steps = epochs * int(np.ceil(len(train_rows) / batch_size))
        self._freeze()
        optimizer = torch.optim.AdamW(
            param_groups(self.net, self.training.learning_rate, self.spec.layer_lr_decay, self.training.weight_decay)
        )
        from transformers import get_linear_schedule_with_warmup

        scheduler = get_linear_schedule_with_warmup(optimizer, int(self.training.warmup_share * steps), steps)
        best_val, best_state, bad_epochs = np.inf, None, 0
        train_length = self.spec.train_max_length or self.spec.max_length
        bf16 = resolve_precision(self.training.precision)[0] == "bf16"
        with stage(label, total=epochs, unit="epoch", lines="each") as epoch_bar:
            for epoch in range(1, epochs + 1):
                train_loss, val_loss = self._epoch(texts, y, train_rows, val_rows, loss_fn, optimizer, scheduler,
                                                   rng, train_length, bf16, f"{label} epoch {epoch}/{epochs}")  # fmt: skip
                if on_epoch:
                    on_epoch(epoch, train_loss)
                epoch_bar.update(1, loss=f"{train_loss:.4f}")
                if val_loss is None:
                    continue
                if val_loss < best_val - 1e-4:
                    best_val, best_state, bad_epochs = val_loss, copy.deepcopy(self.net.state_dict()), 0
                else:
                    bad_epochs += 1
                    if bad_epochs >= stopping.patience:
                        log.info("early stopping after epoch %d", epoch)
                        break
        if best_state is not None:
            self.net.load_state_dict(best_state)
        self.net.eval()
        self.init_from = None
        self.warm_texts = frozenset(texts)
        return self

    def _freeze(self) -> None:
        """Fix the word embeddings (`freeze_embeddings`) and, below `freeze_layers`, everything: no backward there."""
        encoder = self.net.encoder
        layers = encoder.encoder.layer
        if self.spec.freeze_layers >= len(layers):
            raise UserError(
                f"model: freeze_layers is {self.spec.freeze_layers}, but {self.spec.base_model} has {len(layers)} "
                f"encoder layers; set it to at most {len(layers) - 1} so that some layer is fine-tuned"
            )
        for param in self.net.parameters():
            param.requires_grad = True
        for param in encoder.embeddings.word_embeddings.parameters():
            param.requires_grad = not self.spec.freeze_embeddings
        if self.spec.freeze_layers:
            for module in [encoder.embeddings, *layers[: self.spec.freeze_layers]]:
                for param in module.parameters():
                    param.requires_grad = False

    def _epoch(self, texts, y, train_rows, val_rows, loss_fn, optimizer, scheduler, rng, train_length: int,
               bf16: bool, label: str) -> tuple[float, float | None]:  # fmt: skip
        """One pass over the training rows: (mean training loss, validation loss or None)."""
        self.net.train()
        total = 0.0
        batches = length_grouped_batches(train_rows, [len(t) for t in texts], self.training.batch_size, rng)
        with stage(label, total=len(batches), unit="step", lines="none", transient=True) as step_bar:
            for rows in batches:
                enc = self.tokenizer([texts[i] for i in rows], truncation=True, max_length=train_length,
                                     padding=True, return_tensors="pt")  # fmt: skip
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    logits = self.net(enc["input_ids"], enc["attention_mask"])
                loss = loss_fn(logits.float(), torch.from_numpy(y[rows]))
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
                step_loss = loss.item()
                total += step_loss * len(rows)
                step_bar.update(1, loss=f"{step_loss:.4f}")
        val = self._loss_on([texts[i] for i in val_rows], y[val_rows], loss_fn) if len(val_rows) else None
        return total / len(train_rows), val

    def quantize(self) -> BertThemeModel:
        """int8 dynamic quantization of the Linear layers: faster on CPU, for inference only."""
        import warnings

        with warnings.catch_warnings():  # eager-mode quantization is deprecated in favour of torchao, still works
            warnings.simplefilter("ignore")
            self.net = torch.ao.quantization.quantize_dynamic(self.net, {nn.Linear}, dtype=torch.qint8)
        self.quantized = True
        return self

    @torch.inference_mode()
    def predict_proba(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        set_threads(self.training.threads)
        self.net.eval()
        if self.probe is not None:
            return self.probe.predict_proba(
                embed(texts, self.tokenizer, self.net.encoder, self.spec.max_length, batch_size)
            )
        out = np.zeros((len(texts), self.n_themes), dtype=np.float32)
        for rows, batch in length_sorted_batches(texts, self.tokenizer, self.spec.max_length, batch_size):
            out[rows] = torch.sigmoid(self.net(**batch)).numpy()
        return out

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        write_manifest(folder, self.family, spec=self.spec.model_dump(), training=self.training.model_dump(),
                       n_themes=self.n_themes)  # fmt: skip
        self.net.encoder.save_pretrained(folder / "encoder")
        self.tokenizer.save_pretrained(folder / "encoder")
        save_file({k: v.contiguous() for k, v in self.net.head.state_dict().items()}, folder / "head.safetensors")
        if self.probe is not None:
            np.savez(folder / "probe.npz", coef=self.probe.coef_, intercept=self.probe.intercept_)

    @classmethod
    def load(cls, folder: Path, taxonomy: Taxonomy, quantize: bool = False) -> BertThemeModel:
        folder = Path(folder)
        manifest = read_manifest(folder)
        spec = BertSpec(**{**manifest["spec"], "base_model": str(folder / "encoder")})
        model = cls(spec, TrainingConfig(**manifest["training"]), manifest["n_themes"])
        model.tokenizer, encoder = load_encoder(str(folder / "encoder"))
        model.net = MeanPoolClassifier(encoder, model.n_themes, spec.dropout)
        model.net.head.load_state_dict(load_file(folder / "head.safetensors"))
        model.net.eval()
        if (folder / "probe.npz").exists():
            weights = np.load(folder / "probe.npz")
            model.probe = PerThemeLogistic(spec.probe_C, None, 0)
            model.probe.coef_, model.probe.intercept_ = weights["coef"], weights["intercept"]
        return model.quantize() if quantize else model
