"""The MLflow pyfunc model: paragraphs in, themes and per-theme scores out.

The logged artifact folder holds the fitted model, the taxonomy and the tuned
thresholds, so a registered version is complete on its own: `mlflow models
serve`, `spark_udf` and `trainer tag` all load the same thing.

Input: a DataFrame with a string column `text` (or a list of strings).
Output: a DataFrame with `themes` (list of theme ids above threshold) and one
`score_<theme id>` column per theme. Optional params: `threshold` (one cut-off
for every theme instead of the tuned ones).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd

from trainer.textnorm import model_texts

ARTIFACT_KEY = "theme_model"
# Paragraphs per scoring batch (also capped at 512 padded tokens). int8 scales each layer's input by the whole
# batch, so a paragraph's int8 scores move slightly with its neighbours; a batch size of 1 makes them exact.
DEFAULT_BATCH_SIZE = 32


def save_bundle(folder: Path, model, taxonomy, thresholds: np.ndarray) -> Path:
    """Write model + taxonomy + thresholds into one folder (the pyfunc's artifact)."""
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / "model")
    (folder / "taxonomy.yaml").write_text(yaml.safe_dump(taxonomy.to_dict(), allow_unicode=True, sort_keys=False))
    (folder / "thresholds.json").write_text(
        json.dumps(dict(zip(taxonomy.ids, map(float, thresholds))), ensure_ascii=False, indent=1)
    )
    return folder


def quantize_in_place(model) -> None:
    """int8 for every fine-tuned BERT inside the model (others are left as they are)."""
    if getattr(model, "family", "") == "bert":
        model.quantize()
    for member in getattr(model, "members", []):
        quantize_in_place(member)


def is_quantized(model) -> bool:
    return bool(getattr(model, "quantized", False)) or any(is_quantized(m) for m in getattr(model, "members", []))


class Bundle:
    """A loaded artifact folder: model, taxonomy, thresholds."""

    def __init__(self, folder: Path, int8: bool = False, batch_size: int = DEFAULT_BATCH_SIZE):
        from trainer.models import load_model
        from trainer.taxonomy import load_taxonomy

        self.taxonomy = load_taxonomy(folder / "taxonomy.yaml")
        tuned = json.loads((folder / "thresholds.json").read_text())
        self.thresholds = np.array([tuned[t] for t in self.taxonomy.ids])
        self.model = load_model(folder / "model", self.taxonomy)
        if int8:
            quantize_in_place(self.model)
        self.batch_size = batch_size
        self.batch_size_settable = False  # whether an MLflow load can set it (models logged since 2026-12-07)

    def scores(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        """Scores per theme; every inference path (tag, serving, Spark) comes through here, so the model
        reads each text as in training (`trainer.textnorm.model_text`: traditional characters as simplified)."""
        if not texts:
            return np.zeros((0, len(self.taxonomy)))
        return self.model.predict_proba(model_texts(texts), batch_size=batch_size or self.batch_size)

    def frame(self, texts: list[str], threshold: float | None = None) -> pd.DataFrame:
        scores = self.scores(texts)
        cut = self.thresholds if threshold is None else np.full(len(self.taxonomy), threshold)
        ids = self.taxonomy.ids
        themes = [[ids[j] for j in np.flatnonzero(row >= cut)] for row in scores]
        columns = {f"score_{t}": scores[:, j].astype(float) for j, t in enumerate(ids)}
        return pd.DataFrame({"themes": themes, **columns})


def _texts(model_input) -> list[str]:
    if isinstance(model_input, pd.DataFrame):
        column = "text" if "text" in model_input.columns else model_input.columns[0]
        return model_input[column].fillna("").astype(str).tolist()
    if isinstance(model_input, pd.Series):
        return model_input.fillna("").astype(str).tolist()
    if isinstance(model_input, str):
        return [model_input]
    return [str(t) for t in model_input]


# MLflow advises type hints on `predict` when the class is created, under its own warning filter; the explicit
# signature below is this model's contract (type hints would replace it), so the advice is recorded and dropped.
with warnings.catch_warnings(record=True):

    class ThemeTagger(mlflow.pyfunc.PythonModel):
        def load_context(self, context) -> None:
            config = context.model_config or {}
            batch_size = int(config.get("batch_size", DEFAULT_BATCH_SIZE))
            folder = Path(context.artifacts[ARTIFACT_KEY])
            self.bundle = Bundle(folder, int8=bool(config.get("int8", False)), batch_size=batch_size)
            self.bundle.batch_size_settable = "batch_size" in config

        def predict(self, context, model_input, params=None) -> pd.DataFrame:
            threshold = (params or {}).get("threshold")
            threshold = None if threshold is None or float(threshold) < 0 else float(threshold)
            return self.bundle.frame(_texts(model_input), threshold)


def signature(theme_ids: list[str]):
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, DataType, ParamSchema, ParamSpec, Schema
    from mlflow.types.schema import Array

    inputs = Schema([ColSpec(DataType.string, "text")])
    outputs = Schema(
        [ColSpec(Array(DataType.string), "themes")] + [ColSpec(DataType.double, f"score_{t}") for t in theme_ids]
    )
    params = ParamSchema([ParamSpec("threshold", DataType.double, -1.0)])
    return ModelSignature(inputs=inputs, outputs=outputs, params=params)


def pip_requirements() -> list[str]:
    from importlib.metadata import version

    names = ["mlflow", "torch", "transformers", "safetensors", "scikit-learn", "jieba", "opencc", "numpy", "pandas",
             "pyyaml", "pydantic"]  # fmt: skip
    return [f"{n}=={version(n)}" for n in names]
