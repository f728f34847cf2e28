"""Run configs: the shipped files validate; bad files and overrides give one clear line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trainer import cli
from trainer.config import BertModel, RunConfig, apply_overrides, flatten, load_config
from trainer.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
FAMILIES = "'keywords', 'tfidf', 'embedding_lr', 'bert', 'ensemble'"


def write_config(tmp_path: Path, text: str, name: str = "run.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path, overrides: list[str] | None = None) -> str:
    with pytest.raises(UserError) as exc_info:
        load_config(path, overrides)
    message = str(exc_info.value)
    assert "\n" not in message, message
    return message


# --- the shipped configs ---------------------------------------------------------------------


def test_the_baseline_configs_are_there():
    names = {p.name for p in CONFIGS}
    assert {"bert_plain.yaml", "default.yaml", "embedding_lr.yaml", "keywords.yaml", "tfidf.yaml"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_shipped_config_validates(path):
    config = load_config(path)
    assert isinstance(config, RunConfig)
    assert config.tracking.run_name == path.stem
    # every data file a config names exists in the project
    for data_path in [config.data.gold, config.data.taxonomy, config.data.seeds, *config.data.extra_train]:
        assert (ROOT / data_path).exists(), f"{path.name}: {data_path} does not exist"


def test_default_config_is_the_warm_started_bert_ensemble():
    config = load_config(ROOT / "configs" / "default.yaml")
    bert = config.model.members[0].model
    assert isinstance(bert, BertModel)
    assert bert.warm_start_epochs > 0 and bert.head == "probe"
    assert bert.domain_epochs > 0 and config.data.real is not None and config.evaluation.thresholds == "shared"
    assert [m.model.family for m in config.model.members] == ["bert", "tfidf", "keywords"]
    assert [str(p) for p in config.data.extra_train] == ["labels/examples.jsonl"]
    assert config.evaluation.scheme == "leave_one_report_out"


@pytest.mark.parametrize(
    ("stem", "family"),
    [
        ("bert_plain", "bert"),
        ("default", "ensemble"),
        ("embedding_lr", "embedding_lr"),
        ("keywords", "keywords"),
        ("tfidf", "tfidf"),
    ],
)
def test_config_family(stem, family):
    assert load_config(ROOT / "configs" / f"{stem}.yaml").model.family == family


def test_minimal_config_gets_defaults(tmp_path):
    config = load_config(write_config(tmp_path, "model:\n  family: keywords\n"))
    assert config.training.epochs == 4
    assert config.evaluation.thresholds == "per_theme"
    assert str(config.data.gold) == "labels/gold.jsonl"
    assert flatten(config)["model.family"] == "keywords"


# --- bad configs: one line naming the field, the bad value and what is allowed --------------

BAD_CONFIGS = {
    "family": (
        "model:\n  family: bret\n",
        f"model.family: unknown value 'bret' (allowed: {FAMILIES})",
    ),
    "family-missing": (
        "model:\n  base_model: moka-ai/m3e-small\n",
        f"model.family: field required (allowed: {FAMILIES})",
    ),
    "epochs-zero": (
        "model:\n  family: keywords\ntraining:\n  epochs: 0\n",
        "training.epochs: Input should be greater than or equal to 1 (got 0)",
    ),
    "epochs-text": (
        "model:\n  family: keywords\ntraining:\n  epochs: many\n",
        "training.epochs: Input should be a valid integer, unable to parse string as an integer (got 'many')",
    ),
    "thresholds": (
        "model:\n  family: keywords\nevaluation:\n  thresholds: x\n",
        "evaluation.thresholds: Input should be 'per_theme', 'shrunk', 'shared' or 'global' (got 'x')",
    ),
    "unknown-field": (
        "model:\n  family: keywords\ntraining:\n  epoch: 3\n",
        "training.epoch: unknown field (check the spelling; see configs/default.yaml for the fields) (got 3)",
    ),
    "unknown-model-field": (
        "model:\n  family: tfidf\n  ngrams: 3\n",
        "model.ngrams: unknown field (check the spelling; see configs/default.yaml for the fields) (got 3)",
    ),
    "unknown-section": (
        "model:\n  family: keywords\ntrainig:\n  epochs: 3\n",
        "trainig: unknown field",
    ),
    "learning-rate": (
        "model:\n  family: bert\ntraining:\n  learning_rate: -0.1\n",
        "training.learning_rate: Input should be greater than 0 (got -0.1)",
    ),
    "ensemble-member": (
        "model:\n  family: ensemble\n  members:\n    - model: {family: keywords}\n    - model: {family: brt}\n",
        "model.members.1.model.family: unknown value 'brt' (allowed: 'keywords', 'tfidf', 'embedding_lr', 'bert')",
    ),
    "ensemble-field-on-the-ensemble": (
        "model:\n  family: ensemble\n  base_model: x\n  members:\n    - model: {family: keywords}\n"
        "    - model: {family: tfidf}\n",
        "model.base_model: not an ensemble field: set it on a member, e.g. model.members.0.model.base_model (got 'x')",
    ),
    "ensemble-too-small": (
        "model:\n  family: ensemble\n  members:\n    - model: {family: keywords}\n",
        "model.members: List should have at least 2 items",
    ),
    "precision": (
        "model:\n  family: bert\ntraining:\n  precision: fp16\n",
        "training.precision: Input should be 'auto', 'fp32' or 'bf16' (got 'fp16')",
    ),
    "real-weight": (
        "data:\n  real_weight: 0\nmodel:\n  family: keywords\n",
        "data.real_weight: Input should be greater than or equal to 1 (got 0)",
    ),
    "no-model": ("training:\n  epochs: 3\n", "model: Field required"),
    "empty-file": ("", "model: Field required"),
    "not-a-mapping": ("- model\n- training\n", "a config must be a YAML mapping"),
    "section-not-a-mapping": (
        "model:\n  family: keywords\ntraining: 5\n",
        "training: Input should be a valid dictionary",
    ),
    "warm-start-without-data": (
        "model:\n  family: bert\n  warm_start_epochs: 2\n",
        "model.warm_start_epochs > 0 needs data.extra_train files to warm-start on",
    ),
    "domain-tuning-without-real-documents": (
        "model:\n  family: ensemble\n  members:\n    - model: {family: bert, domain_epochs: 2}\n"
        "    - model: {family: keywords}\n",
        "domain_epochs > 0 needs data.real (with real_in_training: true) to fine-tune on",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_is_one_clear_line(tmp_path, case):
    text, expected = BAD_CONFIGS[case]
    path = write_config(tmp_path, text)
    message = config_error(path)
    assert message.startswith(f"{path}: ")
    assert expected in message


def test_several_problems_are_all_named(tmp_path):
    path = write_config(tmp_path, "model:\n  family: keywords\ntraining:\n  epochs: 0\n  batch_size: 0\n")
    message = config_error(path)
    assert "training.epochs: Input should be greater than or equal to 1 (got 0)" in message
    assert "training.batch_size: Input should be greater than or equal to 1 (got 0)" in message


def test_bad_yaml(tmp_path):
    path = write_config(tmp_path, "model:\n  family: [keywords\ntraining:\n  epochs: 3\n")
    message = config_error(path)
    assert message.startswith(f"{path}: not valid YAML (")
    assert "line 2" in message


def test_tabs_in_yaml(tmp_path):
    path = write_config(tmp_path, "model:\n\tfamily: keywords\n")
    assert config_error(path).startswith(f"{path}: not valid YAML (")


def test_missing_config_file(tmp_path):
    message = config_error(tmp_path / "nope.yaml")
    assert message == f"{tmp_path / 'nope.yaml'}: cannot read the config (No such file or directory)"


def test_config_is_data_only(tmp_path):
    path = write_config(tmp_path, "model: !!python/object/apply:os.system ['echo pwned']\n")
    assert "not valid YAML" in config_error(path)


def test_warm_start_is_fine_with_extra_train(tmp_path):
    path = write_config(tmp_path, "model:\n  family: bert\n  warm_start_epochs: 2\n")
    config = load_config(path, ["data.extra_train=[labels/examples.jsonl]"])
    assert config.model.warm_start_epochs == 2


# --- --set overrides -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("training.epochs=3", {"training": {"epochs": 3}}),
        ("training.learning_rate=0.0001", {"training": {"learning_rate": 0.0001}}),
        ("evaluation.cross_validate=false", {"evaluation": {"cross_validate": False}}),
        ("data.extra_train=[a.jsonl, b.jsonl]", {"data": {"extra_train": ["a.jsonl", "b.jsonl"]}}),
        ("tracking.run_name=my run", {"tracking": {"run_name": "my run"}}),
        ("tracking.run_name=a=b", {"tracking": {"run_name": "a=b"}}),
        (" training.epochs = 3", {"training": {"epochs": 3}}),
        ("tracking.tracking_uri=", {"tracking": {"tracking_uri": ""}}),
    ],
)
def test_override_values_are_yaml_scalars(override, expected):
    assert apply_overrides({}, [override]) == expected


def test_overrides_reach_the_config():
    config = load_config(
        ROOT / "configs" / "default.yaml",
        ["training.epochs=3", "training.learning_rate=1e-4", "evaluation.thresholds=global", "tracking.run_name=2024"],
    )
    assert config.training.epochs == 3 and isinstance(config.training.epochs, int)
    assert config.training.learning_rate == pytest.approx(1e-4)
    assert config.evaluation.thresholds == "global"
    assert config.tracking.run_name == "2024"  # a YAML int used as a name stays a name
    # untouched fields keep the file's values
    import yaml

    in_file = yaml.safe_load((ROOT / "configs" / "default.yaml").read_text(encoding="utf-8"))
    bert = config.model.members[0].model
    assert bert.warm_start_epochs == in_file["model"]["members"][0]["model"]["warm_start_epochs"]
    assert bert.warm_start_epochs != BertModel.model_fields["warm_start_epochs"].default


def test_later_override_wins_and_families_can_switch(tmp_path):
    path = write_config(tmp_path, "model:\n  family: keywords\n")
    config = load_config(path, ["training.epochs=3", "training.epochs=5", "model.family=tfidf", "model.ngram_max=3"])
    assert config.training.epochs == 5
    assert config.model.family == "tfidf" and config.model.ngram_max == 3


@pytest.mark.parametrize("override", ["foo", "=3", "training.epochs", " =3"])
def test_malformed_override(override):
    message = config_error(ROOT / "configs" / "keywords.yaml", [override])
    assert message == f"--set {override!r}: expected FIELD=VALUE, e.g. --set training.epochs=3"


def test_override_below_a_value_is_refused():
    message = config_error(ROOT / "configs" / "bert_plain.yaml", ["training.epochs.max=3"])
    assert (
        message == "--set training.epochs.max=3: cannot set 'training.epochs.max': 'training.epochs' is not a section"
    )


def test_override_with_a_bad_value_names_the_field():
    message = config_error(ROOT / "configs" / "keywords.yaml", ["training.epochs=0"])
    assert message.endswith("training.epochs: Input should be greater than or equal to 1 (got 0)")


# --- `trainer train BADCONFIG` ---------------------------------------------------------------


@pytest.fixture
def no_training(monkeypatch):
    """A bad config must stop before any training starts."""
    import trainer.training

    def refuse(*args, **kwargs):
        raise AssertionError("training started from a config that should have been refused")

    monkeypatch.setattr(trainer.training, "train", refuse)


@pytest.mark.parametrize(
    ("config", "overrides", "expected"),
    [
        ("model:\n  family: bret\n", [], r"model\.family: unknown value 'bret' \(allowed: 'keywords'"),
        ("model:\n  family: keywords\n", ["--set", "training.epochs=0"], r"training\.epochs: .*\(got 0\)"),
        ("model:\n  family: keywords\n", ["--set", "foo"], r"--set 'foo': expected FIELD=VALUE"),
        ("model: [\n", [], r"not valid YAML"),
    ],
)
def test_cli_train_bad_config(tmp_path, capsys, no_training, config, overrides, expected):
    path = write_config(tmp_path, config, "bad.yaml")
    assert cli.main(["train", str(path), *overrides]) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    err_lines = [line for line in err.splitlines() if line.strip()]
    assert len(err_lines) == 1, err
    assert err_lines[0].startswith("error: ")
    assert re.search(expected, err_lines[0])


def test_cli_train_missing_config(tmp_path, capsys, no_training):
    assert cli.main(["train", str(tmp_path / "missing.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"error: {tmp_path / 'missing.yaml'}: cannot read the config (No such file or directory)"


def test_a_warm_started_ensemble_member_without_examples_is_one_clear_line(tmp_path):
    path = write_config(tmp_path, "model:\n  family: ensemble\n  members:\n    - model: {family: bert, warm_start_epochs: 2}\n"
                                  "    - model: {family: keywords}\n")  # fmt: skip
    assert config_error(path).endswith("model.warm_start_epochs > 0 needs data.extra_train files to warm-start on")
