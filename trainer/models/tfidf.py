"""Baseline: jieba tokens, TF-IDF, one logistic regression per theme."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from trainer.config import TfidfModel as TfidfSpec
from trainer.config import TrainingConfig
from trainer.models import read_manifest, write_manifest
from trainer.models.linear import PerThemeLogistic
from trainer.taxonomy import Taxonomy


def jieba_tokens(text: str) -> list[str]:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return [tok for tok in jieba.lcut(text) if tok.strip()]


class TfidfModel:
    family = "tfidf"

    def __init__(self, spec: TfidfSpec, training: TrainingConfig, n_themes: int):
        self.spec, self.training, self.n_themes = spec, training, n_themes
        self.vectorizer: TfidfVectorizer | None = None
        self.classifier: PerThemeLogistic | None = None

    def _new_vectorizer(self) -> TfidfVectorizer:
        common = dict(ngram_range=(1, self.spec.ngram_max), min_df=self.spec.min_df, sublinear_tf=True)
        if self.spec.analyzer == "jieba":
            return TfidfVectorizer(tokenizer=jieba_tokens, token_pattern=None, lowercase=False, **common)
        return TfidfVectorizer(analyzer="char", **common)

    def fit(self, texts, y, on_epoch=None) -> TfidfModel:
        self.vectorizer = self._new_vectorizer()
        X = self.vectorizer.fit_transform(texts)
        weight = "balanced" if self.training.class_weighting == "balanced" else None
        self.classifier = PerThemeLogistic(self.spec.C, weight, self.training.seed).fit(X, np.asarray(y))
        return self

    def predict_proba(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        return self.classifier.predict_proba(self.vectorizer.transform(texts))

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        write_manifest(folder, self.family, spec=self.spec.model_dump(), training=self.training.model_dump())
        vocab = {term: int(i) for term, i in self.vectorizer.vocabulary_.items()}
        (folder / "vocabulary.json").write_text(json.dumps(vocab, ensure_ascii=False))
        np.savez(folder / "weights.npz", idf=self.vectorizer.idf_, coef=self.classifier.coef_,
                 intercept=self.classifier.intercept_)  # fmt: skip

    @classmethod
    def load(cls, folder: Path, taxonomy: Taxonomy) -> TfidfModel:
        manifest = read_manifest(folder)
        model = cls(TfidfSpec(**manifest["spec"]), TrainingConfig(**manifest["training"]), len(taxonomy))
        vocab = json.loads((Path(folder) / "vocabulary.json").read_text())
        weights = np.load(Path(folder) / "weights.npz")
        model.vectorizer = model._new_vectorizer()
        model.vectorizer.vocabulary_ = vocab
        model.vectorizer.idf_ = weights["idf"]
        model.classifier = PerThemeLogistic(model.spec.C, None, 0)
        model.classifier.coef_, model.classifier.intercept_ = weights["coef"], weights["intercept"]
        return model
