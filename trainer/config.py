"""The run config: one validated YAML file describes a whole training run.

`load_config` reads the file, applies `--set a.b=value` overrides, and validates
everything with pydantic; any bad field becomes one `UserError` naming the
field, the bad value and what is allowed. Config files are data only: nothing
in them is evaluated or executed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from trainer.errors import UserError


class Strict(BaseModel):
    # coerce_numbers_to_str: `--set tracking.run_name=2024` parses as a YAML int; keep it as a name
    model_config = ConfigDict(extra="forbid", protected_namespaces=(), coerce_numbers_to_str=True)


class DataConfig(Strict):
    gold: Path = Path("labels/gold.jsonl")
    taxonomy: Path = Path("labels/taxonomy.yaml")
    seeds: Path = Path("seeds")
    extra_train: list[Path] = Field(default_factory=list, description="training-only files, e.g. examples.jsonl")
    real: Path | None = Field(
        None,
        description="labelled paragraphs of real documents from other places (labels/real/paragraphs.jsonl): "
        "rows with split 'train' join the grouped CV, rows with split 'dev' are only ever scored",
    )
    real_in_training: bool = Field(
        True, description="false: only score the dev part (e.g. a model trained without real documents)"
    )
    real_weight: int = Field(
        1,
        ge=1,
        le=20,
        description="how many times each real labelled paragraph (the seeds' gold, the real training documents) "
        "counts when a model is fitted, against once for each extra_train example",
    )


class KeywordsModel(Strict):
    family: Literal["keywords"]
    min_hits: int = Field(1, ge=1, description="keyword hits needed for full confidence")


class TfidfModel(Strict):
    family: Literal["tfidf"]
    analyzer: Literal["jieba", "char"] = "jieba"
    ngram_max: int = Field(2, ge=1, le=4)
    min_df: int = Field(1, ge=1)
    C: float = Field(4.0, gt=0)


class EmbeddingLRModel(Strict):
    family: Literal["embedding_lr"]
    base_model: str = "moka-ai/m3e-small"
    max_length: int = Field(256, ge=8, le=512)
    C: float = Field(2.0, gt=0)


class BertModel(Strict):
    family: Literal["bert"]
    base_model: str = "moka-ai/m3e-small"
    max_length: int = Field(256, ge=8, le=512)
    train_max_length: int | None = Field(
        None, ge=8, le=512, description="token limit while training (default max_length)"
    )
    # Stage 1 (optional): fine-tune on the extra training files alone, once per run;
    # every CV fold and the final fit then start from that checkpoint.
    warm_start_epochs: int = Field(0, ge=0, description="epochs on data.extra_train before per-fold training")
    warm_start_replay: float = Field(0.25, ge=0, le=1, description="share of warm-start rows trained on again")
    # Stage 1b (optional): then fine-tune on the real training documents (data.real), with that share of the
    # extra rows replayed, once per run. The encoder learns how real reports are written; the real-document CV
    # is then optimistic for this member (its encoder saw every real training document), the dev part is not.
    domain_epochs: int = Field(
        0, ge=0, le=20, description="epochs on the real training documents after the warm start (needs data.real)"
    )
    head: Literal["network", "probe"] = Field(
        "network",
        description="network: fine-tune encoder+linear head per fold; probe: per-theme logistic regression on the "
        "(warm-started) encoder's mean-pooled embeddings, no per-fold gradient training",
    )
    probe_C: float = Field(2.0, gt=0, description="inverse regularisation of the probe's logistic regressions")
    freeze_embeddings: bool = Field(True, description="keep the word-embedding matrix fixed: ~2x faster on CPU")
    freeze_layers: int = Field(
        0,
        ge=0,
        description="keep all embeddings and the bottom N encoder layers fixed while fine-tuning: no gradient "
        "flows below them, so each step is cheaper (N=2 of m3e-small's 4: 1.5x per step on an AVX2 CPU)",
    )
    layer_lr_decay: float = Field(1.0, gt=0, le=1, description="lr multiplier per layer going down the encoder")
    dropout: float = Field(0.1, ge=0, lt=1)


class EnsembleMember(Strict):
    model: Annotated[Union[KeywordsModel, TfidfModel, EmbeddingLRModel, BertModel], Field(discriminator="family")]
    weight: float = Field(1.0, gt=0)


class EnsembleModel(Strict):
    family: Literal["ensemble"]
    members: list[EnsembleMember] = Field(min_length=2)


ModelConfig = Annotated[
    Union[KeywordsModel, TfidfModel, EmbeddingLRModel, BertModel, EnsembleModel], Field(discriminator="family")
]


class EarlyStopping(Strict):
    enabled: bool = False
    patience: int = Field(2, ge=1)
    validation_share: float = Field(0.15, gt=0, lt=0.5, description="share of training rows held out to watch")


class TrainingConfig(Strict):
    epochs: int = Field(4, ge=1, le=100)
    learning_rate: float = Field(5e-5, gt=0, le=1)
    batch_size: int = Field(16, ge=1, le=1024)
    seed: int = 13
    class_weighting: Literal["none", "balanced"] = "balanced"
    max_pos_weight: float = Field(10.0, ge=1)
    weight_decay: float = Field(0.01, ge=0)
    warmup_share: float = Field(0.1, ge=0, lt=1)
    threads: int = Field(0, ge=0, description="torch threads; 0 = all cores")
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto",
        description="bf16: autocast forward passes while fine-tuning (fp32 weights); 1.5-2.4x faster on CPUs "
        "with AVX-512 BF16 or AMX, far slower on CPUs without; auto: bf16 only where the CPU runs it natively "
        "(trainer/precision.py)",
    )
    early_stopping: EarlyStopping = Field(default_factory=EarlyStopping)


class EvaluationConfig(Strict):
    scheme: Literal["leave_one_report_out"] = "leave_one_report_out"
    thresholds: Literal["per_theme", "shrunk", "shared", "global"] = Field(
        "per_theme",
        description="cut-offs tuned out of fold: per theme, per theme shrunk toward one shared cut-off, "
        "one shared cut-off; or global_threshold for all (see trainer/evaluation.py)",
    )
    threshold_shrinkage: float = Field(10.0, ge=0, description="shrunk: pseudo-count of the shared cut-off")
    global_threshold: float = Field(0.5, gt=0, lt=1)
    cross_validate: bool = True
    real_folds: int = Field(5, ge=2, description="folds of real training documents (grouped by document) in the CV")
    int8_check: bool = Field(False, description="also score each fold with an int8-quantized copy and log its metrics")


class TrackingConfig(Strict):
    tracking_uri: str | None = Field(None, description="default: $MLFLOW_TRACKING_URI, else sqlite:///mlruns/mlflow.db")
    experiment: str = "theme-tagging"
    registered_model: str = "theme-tagger"
    register_model: bool = True
    log_int8: bool = Field(False, description="logged model runs int8-quantized by default (load-time model_config)")
    run_name: str | None = None


class RunConfig(Strict):
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)

    def bert_models(self) -> list[BertModel]:
        """The BERT specs of the run: the model itself, or its ensemble members."""
        models = [m.model for m in getattr(self.model, "members", [])] or [self.model]
        return [m for m in models if isinstance(m, BertModel)]

    @model_validator(mode="after")
    def _warm_start_needs_data(self) -> RunConfig:
        if any(m.warm_start_epochs for m in self.bert_models()) and not self.data.extra_train:
            raise ValueError("model.warm_start_epochs > 0 needs data.extra_train files to warm-start on")
        return self

    @model_validator(mode="after")
    def _domain_tuning_needs_real_documents(self) -> RunConfig:
        tuned = any(m.domain_epochs for m in self.bert_models())
        if tuned and (self.data.real is None or not self.data.real_in_training):
            raise ValueError("domain_epochs > 0 needs data.real (with real_in_training: true) to fine-tune on")
        return self


def _set_path(tree: dict, dotted: str, value: Any, source: str) -> None:
    """Set `a.b.0.c` in nested mappings and lists (a number indexes a list, e.g. ensemble members)."""
    keys = dotted.split(".")
    node: Any = tree
    for depth, key in enumerate(keys):
        last = depth == len(keys) - 1
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise UserError(
                    f"{source}: '{'.'.join(keys[:depth])}' is a list of {len(node)}; '{key}' is not an index of it"
                )
            key = int(key)
        elif not isinstance(node, dict):
            raise UserError(f"{source}: cannot set '{dotted}': '{'.'.join(keys[:depth])}' is not a section")
        if last:
            node[key] = value
        else:
            if isinstance(node, dict) and node.get(key) is None:
                node[key] = {}
            node = node[key]


def apply_overrides(tree: dict, overrides: list[str]) -> dict:
    """Apply `a.b.c=value` overrides; values are parsed as YAML scalars/lists (3, 1e-4, true, [a, b])."""
    for item in overrides:
        if "=" not in item or not item.split("=", 1)[0].strip():
            raise UserError(f"--set {item!r}: expected FIELD=VALUE, e.g. --set training.epochs=3")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        _set_path(tree, key.strip(), value, f"--set {item}")
    return tree


def _describe(error: dict, families: tuple[str, ...]) -> str:
    loc = [str(p) for p in error["loc"] if str(p) not in families]
    field = ".".join(loc) or "(config)"
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = "unknown field (check the spelling; see configs/default.yaml for the fields)"
        if loc[:1] == ["model"] and len(loc) == 2 and "ensemble" in map(str, error["loc"]):
            message = f"not an ensemble field: set it on a member, e.g. model.members.0.model.{loc[1]}"
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):  # model.family: name the field itself
        ctx = error.get("ctx") or {}
        field = f"{field}.{str(ctx.get('discriminator', 'family')).strip(chr(39))}"
        if "tag" in ctx:
            message = f"unknown value {ctx['tag']!r} (allowed: {ctx.get('expected_tags', '?')})"
        else:
            allowed = [f for f in families if not (f == "ensemble" and "members" in loc)]
            message = f"field required (allowed: {', '.join(map(repr, allowed))})"
    shown = error.get("input")
    got = "" if error["type"] in ("missing", "model_type") or isinstance(shown, dict) else f" (got {shown!r})"
    return f"{field}: {message}{got}"


def validate_config(tree: Any, source: str) -> RunConfig:
    if not isinstance(tree, dict):
        raise UserError(f"{source}: a config must be a YAML mapping with sections data/model/training/...")
    try:
        return RunConfig.model_validate(tree)
    except ValidationError as exc:
        families = ("keywords", "tfidf", "embedding_lr", "bert", "ensemble")
        problems = "; ".join(_describe(e, families) for e in exc.errors())
        raise UserError(f"{source}: {problems}") from None


def load_config(path: str | Path, overrides: list[str] | None = None) -> RunConfig:
    path = Path(path)
    try:
        tree = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise UserError(f"{path}: cannot read the config ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
    if overrides:
        apply_overrides(tree, overrides)
    return validate_config(tree, str(path))


def flatten(tree: Any, prefix: str = "") -> dict[str, str]:
    """Config as flat `section.field` -> string pairs, for MLflow params."""
    if isinstance(tree, BaseModel):
        tree = tree.model_dump(mode="json")
    flat: dict[str, str] = {}
    if isinstance(tree, dict):
        for key, value in tree.items():
            flat.update(flatten(value, f"{prefix}{key}."))
    elif isinstance(tree, list) and any(isinstance(v, (dict, list)) for v in tree):
        for i, value in enumerate(tree):
            flat.update(flatten(value, f"{prefix}{i}."))
    else:
        flat[prefix.rstrip(".")] = str(tree)
    return flat
