"""Weighted average of member models' scores (e.g. fine-tuned BERT + TF-IDF + keywords)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trainer.models import read_manifest, write_manifest
from trainer.taxonomy import Taxonomy


class EnsembleThemeModel:
    family = "ensemble"

    def __init__(self, members: list, weights: list[float]):
        self.members = members
        self.weights = np.asarray(weights, dtype=np.float64) / np.sum(weights)

    def fit(self, texts, y, on_epoch=None) -> EnsembleThemeModel:
        for member in self.members:
            member.fit(texts, y, on_epoch=on_epoch if member.family == "bert" else None)
        return self

    def predict_members(self, texts: list[str], batch_size: int = 32) -> list[np.ndarray]:
        """Each member's own scores (cross-validation logs them, so ablations need no extra runs)."""
        return [m.predict_proba(texts, batch_size=batch_size) for m in self.members]

    def combine(self, member_scores: list[np.ndarray]) -> np.ndarray:
        return sum(w * s for w, s in zip(self.weights, member_scores))

    def predict_proba(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        return self.combine(self.predict_members(texts, batch_size))

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        write_manifest(folder, self.family, weights=self.weights.tolist(), members=len(self.members))
        for i, member in enumerate(self.members):
            member.save(folder / f"member_{i}")

    @classmethod
    def load(cls, folder: Path, taxonomy: Taxonomy) -> EnsembleThemeModel:
        from trainer.models import load_model

        manifest = read_manifest(folder)
        members = [load_model(Path(folder) / f"member_{i}", taxonomy) for i in range(manifest["members"])]
        return cls(members, manifest["weights"])
