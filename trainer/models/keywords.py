"""Rule baseline: a theme scores by how many of its taxonomy keywords a paragraph contains."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trainer.models import read_manifest, write_manifest
from trainer.taxonomy import Taxonomy


class KeywordModel:
    family = "keywords"

    def __init__(self, taxonomy: Taxonomy, min_hits: int = 1):
        self.taxonomy = taxonomy
        self.min_hits = min_hits

    def fit(self, texts, y, on_epoch=None) -> KeywordModel:
        """Nothing to learn: the keyword lists are the model."""
        return self

    def predict_proba(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        # Distinct keywords found, squashed into [0, 1): 1 hit -> 0.5 at min_hits=1, 2 -> 0.67, ...
        hits = np.array([[len(self.taxonomy.keywords_found(t, text)) for t in self.taxonomy.ids] for text in texts])
        return (hits / (hits + self.min_hits)).reshape(len(texts), len(self.taxonomy))

    def save(self, folder: Path) -> None:
        write_manifest(Path(folder), self.family, min_hits=self.min_hits)

    @classmethod
    def load(cls, folder: Path, taxonomy: Taxonomy) -> KeywordModel:
        return cls(taxonomy, min_hits=read_manifest(folder)["min_hits"])
