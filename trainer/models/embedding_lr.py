"""Frozen mean-pooled BERT embeddings + one logistic regression per theme.

Embeddings of a text never change during a run, so they are cached by
(encoder, max_length, text): cross-validation folds reuse them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trainer.config import EmbeddingLRModel as EmbSpec
from trainer.config import TrainingConfig
from trainer.models import read_manifest, write_manifest
from trainer.models.encoder import embed, load_encoder, set_threads
from trainer.models.linear import PerThemeLogistic
from trainer.taxonomy import Taxonomy

_ENCODERS: dict[str, tuple] = {}
_EMBEDDINGS: dict[tuple[str, int, str], np.ndarray] = {}


def _encoder(name: str):
    if name not in _ENCODERS:
        _ENCODERS[name] = load_encoder(name)
    return _ENCODERS[name]


def cached_embeddings(texts: list[str], base_model: str, max_length: int) -> np.ndarray:
    missing = [t for t in dict.fromkeys(texts) if (base_model, max_length, t) not in _EMBEDDINGS]
    if missing:
        tokenizer, encoder = _encoder(base_model)
        for text, vector in zip(missing, embed(missing, tokenizer, encoder, max_length)):
            _EMBEDDINGS[(base_model, max_length, text)] = vector
    return np.stack([_EMBEDDINGS[(base_model, max_length, t)] for t in texts])


class EmbeddingLRModel:
    family = "embedding_lr"

    def __init__(self, spec: EmbSpec, training: TrainingConfig, n_themes: int):
        self.spec, self.training, self.n_themes = spec, training, n_themes
        self.classifier: PerThemeLogistic | None = None

    def _features(self, texts: list[str]) -> np.ndarray:
        set_threads(self.training.threads)
        return cached_embeddings(list(texts), self.spec.base_model, self.spec.max_length)

    def fit(self, texts, y, on_epoch=None) -> EmbeddingLRModel:
        weight = "balanced" if self.training.class_weighting == "balanced" else None
        self.classifier = PerThemeLogistic(self.spec.C, weight, self.training.seed).fit(
            self._features(texts), np.asarray(y)
        )
        return self

    def predict_proba(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        return self.classifier.predict_proba(self._features(texts))

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        write_manifest(folder, self.family, spec=self.spec.model_dump(), training=self.training.model_dump())
        tokenizer, encoder = _encoder(self.spec.base_model)
        encoder.save_pretrained(folder / "encoder")
        tokenizer.save_pretrained(folder / "encoder")
        np.savez(folder / "weights.npz", coef=self.classifier.coef_, intercept=self.classifier.intercept_)

    @classmethod
    def load(cls, folder: Path, taxonomy: Taxonomy) -> EmbeddingLRModel:
        folder = Path(folder)
        manifest = read_manifest(folder)
        spec = EmbSpec(**{**manifest["spec"], "base_model": str(folder / "encoder")})
        model = cls(spec, TrainingConfig(**manifest["training"]), len(taxonomy))
        weights = np.load(folder / "weights.npz")
        model.classifier = PerThemeLogistic(spec.C, None, 0)
        model.classifier.coef_, model.classifier.intercept_ = weights["coef"], weights["intercept"]
        return model
