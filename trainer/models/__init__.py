"""Model families behind one small interface: fit / predict_proba / save / load.

Every family is a small scikit-learn-style estimator: constructed from its
config section, `fit(texts, y)` learns, `predict_proba(texts)` gives an
(n_texts, n_themes) array of scores in taxonomy order, and `save(folder)` /
`load_model(folder)` round-trip it without pickling code.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from trainer.config import BertModel, EmbeddingLRModel, EnsembleModel, KeywordsModel, TfidfModel, TrainingConfig
from trainer.errors import UserError
from trainer.taxonomy import Taxonomy

EpochCallback = Callable[[int, float], None]
MODEL_FILE = "theme_model.json"


class ThemeModel(Protocol):
    family: str

    def fit(self, texts: list[str], y: np.ndarray, on_epoch: EpochCallback | None = None) -> ThemeModel: ...

    def predict_proba(self, texts: list[str], batch_size: int = 32) -> np.ndarray: ...

    def save(self, folder: Path) -> None: ...


def build_model(spec, taxonomy: Taxonomy, training: TrainingConfig) -> ThemeModel:
    """A fresh, unfitted model for a validated `model` config section."""
    if isinstance(spec, KeywordsModel):
        from trainer.models.keywords import KeywordModel

        return KeywordModel(taxonomy, min_hits=spec.min_hits)
    if isinstance(spec, TfidfModel):
        from trainer.models.tfidf import TfidfModel as Tfidf

        return Tfidf(spec, training, n_themes=len(taxonomy))
    if isinstance(spec, EmbeddingLRModel):
        from trainer.models.embedding_lr import EmbeddingLRModel as EmbLR

        return EmbLR(spec, training, n_themes=len(taxonomy))
    if isinstance(spec, BertModel):
        from trainer.models.bert import BertThemeModel

        return BertThemeModel(spec, training, n_themes=len(taxonomy))
    if isinstance(spec, EnsembleModel):
        from trainer.models.ensemble import EnsembleThemeModel

        return EnsembleThemeModel([build_model(m.model, taxonomy, training) for m in spec.members],
                                  [m.weight for m in spec.members])  # fmt: skip
    raise UserError(f"model.family: unknown family {spec!r}")


def write_manifest(folder: Path, family: str, **fields) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MODEL_FILE).write_text(json.dumps({"family": family, **fields}, ensure_ascii=False, indent=1))


def read_manifest(folder: Path) -> dict:
    path = Path(folder) / MODEL_FILE
    if not path.exists():
        raise UserError(f"{folder}: not a saved theme model (no {MODEL_FILE})")
    return json.loads(path.read_text())


def load_model(folder: str | Path, taxonomy: Taxonomy) -> ThemeModel:
    """Load any saved family from its folder."""
    folder = Path(folder)
    family = read_manifest(folder)["family"]
    if family == "keywords":
        from trainer.models.keywords import KeywordModel as cls
    elif family == "tfidf":
        from trainer.models.tfidf import TfidfModel as cls
    elif family == "embedding_lr":
        from trainer.models.embedding_lr import EmbeddingLRModel as cls
    elif family == "bert":
        from trainer.models.bert import BertThemeModel as cls
    elif family == "ensemble":
        from trainer.models.ensemble import EnsembleThemeModel as cls
    else:
        raise UserError(f"{folder}: unknown model family '{family}'")
    return cls.load(folder, taxonomy)
