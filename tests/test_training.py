"""A training run logs everything an analyst looks at in MLflow, and its model behaves the same everywhere."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import clean_env, free_port, wait_until_up
from trainer.cli import main
from trainer.config import load_config
from trainer.evaluation import report_folds
from trainer.labels import DEFAULT_GOLD, load_gold
from trainer.taxonomy import load_taxonomy
from trainer.training import train

SAMPLE = [
    "全年共办理法律援助案件608宗，接待群众咨询6706次。",
    "推进街道综合行政执法改革，开展执法案卷评查。",
    "现将有关情况报告如下：",
]


def test_run_logs_params_metrics_plots_tables_and_data(tiny_run):
    config, result, uri = tiny_run
    client = MlflowClient(uri)
    run = client.get_run(result.run_id)
    assert run.data.params["model.family"] == "bert"
    assert run.data.params["training.epochs"] == "1"
    assert run.data.params["model.max_length"] == "64"
    metrics = run.data.metrics
    for key in ("cv_micro_f1", "cv_macro_f1", "cv_samples_f1", "cv_pr_auc_micro", "theme_f1/enforcement",
                "theme_precision/mediation", "theme_recall/legal_aid", "theme_support/enforcement",
                "theme_pr_auc/legal_aid"):  # fmt: skip
        assert key in metrics, key
    assert metrics["theme_support/enforcement"] == 29
    assert metrics["theme_f1/enforcement"] == pytest.approx(result.metrics.per_theme["enforcement"]["f1"])
    assert 0.0 <= metrics["cv_micro_f1"] <= 1.0
    assert len(client.get_metric_history(result.run_id, "fold/micro_f1")) == 5
    assert [m.step for m in client.get_metric_history(result.run_id, "fold_0/train_loss")] == [1]
    assert len(client.get_metric_history(result.run_id, "warm_start/train_loss")) == 1
    artifacts = {
        a.path for folder in ("plots", "evaluation", "config") for a in client.list_artifacts(result.run_id, folder)
    }
    assert {"plots/per_theme_f1.png", "plots/pr_curves.png", "plots/gold_vs_predicted.png"} <= artifacts
    assert {"evaluation/oof_errors.json", "evaluation/oof_scores.json", "config/tiny.yaml"} <= artifacts
    names = {d.dataset.name: d for d in run.inputs.dataset_inputs}
    assert {"gold", "extra_train"} <= set(names)
    assert names["gold"].dataset.digest


def test_per_theme_metrics_are_grouped_by_figure_and_headline_names_stay(tiny_run):
    """The UI groups charts by the part before '/': one section per figure, 17 themes each."""
    _, result, uri = tiny_run
    metrics = MlflowClient(uri).get_run(result.run_id).data.metrics
    groups = {}
    for key in metrics:
        groups.setdefault(key.split("/")[0] if "/" in key else "", []).append(key)
    for figure in ("theme_f1", "theme_precision", "theme_recall", "theme_support"):
        assert len(groups[figure]) == 17, figure
    assert not [key for key in groups[""] if key.startswith(("f1_", "precision_", "recall_", "support_", "pr_auc_"))]
    assert {"cv_micro_f1", "cv_macro_f1", "cv_micro_f1_at_0.5", "wall_seconds"} <= set(groups[""])
    assert len(groups[""]) < 30  # the flat list holds the headline figures only


def test_run_description_gives_the_headline(tiny_run):
    from trainer.precision import resolve_precision

    config, result, uri = tiny_run
    run = MlflowClient(uri).get_run(result.run_id)
    note = run.data.tags["mlflow.note.content"]
    m = result.metrics
    assert f"CV micro-F1 {m.micro_f1:.3f} · macro-F1 {m.macro_f1:.3f}" in note
    assert "model: bert" in note
    examples = sum(1 for line in Path("labels/examples.jsonl").read_text(encoding="utf-8").splitlines() if line)
    assert f"132 gold paragraphs from 5 reports + {examples} extra training paragraphs" in note
    resolved = resolve_precision("auto")[0]
    assert f"precision: {resolved}" in note and "wall time: " in note and " min" in note
    assert run.data.params["training.precision"] == "auto"
    assert run.data.params["training.precision_resolved"] == resolved
    experiment = MlflowClient(uri).get_experiment(run.info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"


def test_oof_errors_table_lists_wrong_paragraphs_with_text_gold_and_scores(tiny_run):
    _, result, uri = tiny_run
    path = MlflowClient(uri).download_artifacts(result.run_id, "evaluation/oof_errors.json")
    table = json.loads(Path(path).read_text())
    frame = pd.DataFrame(table["data"], columns=table["columns"])
    assert {"id", "text", "gold", "predicted", "top_scores"} <= set(frame.columns)
    assert len(frame) > 0
    assert all(isinstance(json.loads(s), dict) for s in frame["top_scores"])


def test_model_is_registered_as_candidate_and_promote_moves_champion(tiny_run, capsys):
    config, result, uri = tiny_run
    name = config.tracking.registered_model
    client = MlflowClient(uri, registry_uri=uri)
    assert str(client.get_model_version_by_alias(name, "candidate").version) == result.model_version
    assert main(["promote", name, result.model_version, "--tracking-uri", uri]) == 0
    assert str(client.get_model_version_by_alias(name, "champion").version) == result.model_version
    assert main(["promote", name, "999", "--tracking-uri", uri]) == 2
    assert "cannot promote" in capsys.readouterr().err


def test_same_config_and_seed_give_the_same_metrics(tiny_bert, tmp_path):
    overrides = [f"model.base_model={tiny_bert}", f"tracking.tracking_uri=sqlite:///{tmp_path / 'a.db'}",
                 "data.extra_train=[]", "model.warm_start_epochs=0", "tracking.register_model=false"]  # fmt: skip
    first = train(load_config("configs/tiny.yaml", overrides), echo=lambda s: None)
    second = train(load_config("configs/tiny.yaml", overrides), echo=lambda s: None)
    assert first.metrics.micro_f1 == second.metrics.micro_f1
    np.testing.assert_allclose(first.oof_scores, second.oof_scores, rtol=1e-5, atol=1e-6)


def test_ensemble_run_logs_each_member_scored_alone(tmp_path):
    """Ablations come from the same folds: a member's logged figures equal a run of that member alone."""
    store = f"tracking.tracking_uri=sqlite:///{tmp_path / 'a.db'}"
    ensemble = {"family": "ensemble", "members": [{"model": {"family": "tfidf"}}, {"model": {"family": "keywords"}}]}
    both = train(load_config("configs/keywords.yaml", [f"model={json.dumps(ensemble)}", store,
                                                       "tracking.register_model=false"]), echo=lambda s: None)  # fmt: skip
    alone = train(load_config("configs/keywords.yaml", [store, "tracking.register_model=false"]), echo=lambda s: None)
    metrics = MlflowClient(both.tracking_uri).get_run(both.run_id).data.metrics
    assert {"cv_member_0_tfidf_micro_f1", "cv_member_0_tfidf_macro_f1", "cv_member_1_keywords_macro_f1"} <= set(metrics)
    assert metrics["cv_member_1_keywords_macro_f1"] == pytest.approx(alone.metrics.macro_f1)
    assert metrics["cv_member_1_keywords_micro_f1"] == pytest.approx(alone.metrics.micro_f1)


def test_folds_hold_out_whole_reports():
    gold = load_gold(DEFAULT_GOLD, load_taxonomy())
    folds = report_folds(gold.groups)
    assert len(folds) == 5
    for train_rows, test_rows in folds:
        held_out = {gold.groups[i] for i in test_rows}
        assert len(held_out) == 1
        assert held_out.isdisjoint(gold.groups[i] for i in train_rows)


def test_real_weight_repeats_the_labelled_rows_of_a_fold_not_the_examples():
    from trainer.training import _training_set

    taxonomy = load_taxonomy()
    gold = load_gold(DEFAULT_GOLD, taxonomy)
    extra = gold.subset([0, 1])
    rows = np.array([5, 9, 12])
    train = _training_set(gold, rows, extra, real_weight=3)
    assert len(train) == 3 * 3 + 2
    assert sorted(train.ids[:9]) == sorted([gold.ids[i] for i in rows] * 3)
    assert train.ids[9:] == extra.ids  # examples count once
    assert len(_training_set(gold, rows, extra)) == 3 + 2


def test_logged_model_predicts_the_same_in_a_fresh_process(tiny_run, tmp_path):
    _, result, uri = tiny_run
    mlflow.set_tracking_uri(uri)
    in_process = mlflow.pyfunc.load_model(result.model_uri).predict(pd.DataFrame({"text": SAMPLE}))
    script = (
        "import sys, mlflow, pandas as pd\n"
        f"mlflow.set_tracking_uri({uri!r})\n"
        f"m = mlflow.pyfunc.load_model({result.model_uri!r})\n"
        f"m.predict(pd.DataFrame({{'text': {SAMPLE!r}}})).to_json(sys.argv[1], orient='records')\n"
    )
    out = tmp_path / "pred.json"
    subprocess.run([sys.executable, "-c", script, str(out)], check=True, env=clean_env(), cwd=tmp_path, timeout=300)
    fresh = pd.read_json(out, orient="records")
    assert list(fresh["themes"]) == list(in_process["themes"])
    score_columns = [c for c in in_process.columns if c.startswith("score_")]
    assert len(score_columns) == 17
    np.testing.assert_allclose(fresh[score_columns].to_numpy(), in_process[score_columns].to_numpy(), atol=1e-5)


# SAMPLE as a 繁體 mirror or a Taiwan/Hong Kong source writes it
SAMPLE_TRADITIONAL = [
    "全年共辦理法律援助案件608宗，接待群眾諮詢6706次。",
    "推進街道綜合行政執法改革，開展執法案卷評查。",
    "現將有關情況報告如下：",
]


def test_traditional_paragraphs_score_as_their_simplified_form(tiny_run):
    """Through the logged pyfunc (what `trainer tag`, serving and Spark load) a traditional paragraph gets
    exactly the scores of its simplified form; the tiny BERT's vocabulary has only simplified characters."""
    _, result, uri = tiny_run
    mlflow.set_tracking_uri(uri)
    model = mlflow.pyfunc.load_model(result.model_uri)
    simplified = model.predict(pd.DataFrame({"text": SAMPLE}))
    traditional = model.predict(pd.DataFrame({"text": SAMPLE_TRADITIONAL}))
    score_columns = [c for c in simplified.columns if c.startswith("score_")]
    np.testing.assert_allclose(traditional[score_columns].to_numpy(), simplified[score_columns].to_numpy(), atol=1e-6)
    assert list(traditional["themes"]) == list(simplified["themes"])
    raw = model.unwrap_python_model().bundle.model  # the same model fed the traditional text as it is
    assert np.abs(raw.predict_proba(SAMPLE_TRADITIONAL) - raw.predict_proba(SAMPLE)).max() > 1e-4


def test_int8_is_the_logged_choice_unless_the_tagger_says_otherwise(tiny_run, tmp_path, capsys):
    from trainer.pyfunc import is_quantized
    from trainer.tagging import load_bundle

    config, result, uri = tiny_run
    assert config.tracking.log_int8 is False
    assert not is_quantized(load_bundle(result.model_uri, None, uri).model)  # as logged
    assert is_quantized(load_bundle(result.model_uri, True, uri).model)
    assert not is_quantized(load_bundle(result.model_uri, False, uri).model)
    seed = str(Path(__file__).resolve().parent.parent / "seeds" / "002_6416096977825b04.txt")
    args = ["tag", seed, "--model", result.model_uri, "--tracking-uri", uri, "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "a.jsonl"), "--int8"]) == 0
    assert "(int8)" in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "b.jsonl")]) == 0
    assert "(int8)" not in capsys.readouterr().err


def test_pyfunc_threshold_param_overrides_tuned_thresholds(tiny_run):
    _, result, uri = tiny_run
    mlflow.set_tracking_uri(uri)
    model = mlflow.pyfunc.load_model(result.model_uri)
    everything = model.predict(pd.DataFrame({"text": SAMPLE}), params={"threshold": 0.0001})
    nothing = model.predict(pd.DataFrame({"text": SAMPLE}), params={"threshold": 0.9999})
    assert all(len(t) == 17 for t in everything["themes"])
    assert all(len(t) == 0 for t in nothing["themes"])


@pytest.mark.slow
def test_run_against_a_real_mlflow_server(tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}", "--artifacts-destination",
         str(tmp_path / "artifacts"), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=clean_env(),
    )  # fmt: skip
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{uri}/health", server)
        config = load_config(
            "configs/tfidf.yaml", [f"tracking.tracking_uri={uri}", "tracking.registered_model=srv-tagger"]
        )
        result = train(config, Path("configs/tfidf.yaml"), echo=lambda s: None)
        client = MlflowClient(uri, registry_uri=uri)
        run = client.get_run(result.run_id)
        assert run.data.params["model.family"] == "tfidf"
        assert run.data.metrics["cv_micro_f1"] > 0.5
        assert "plots/per_theme_f1.png" in {a.path for a in client.list_artifacts(result.run_id, "plots")}
        assert str(client.get_model_version_by_alias("srv-tagger", "candidate").version) == result.model_version
    finally:
        server.terminate()
        server.wait(timeout=30)
