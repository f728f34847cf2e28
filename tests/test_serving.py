"""The registered pyfunc serves over REST, predicts from the CLI, and scales out as a Spark UDF."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.request

import mlflow
import numpy as np
import pandas as pd
import pytest

from tests.conftest import clean_env, free_port, wait_until_up

TEXTS = ["全年共办理法律援助案件608宗。", "开展行政执法案卷评查，规范执法行为。", "现将有关情况报告如下："]


def _env(uri: str) -> dict[str, str]:
    env = clean_env()
    env["MLFLOW_TRACKING_URI"] = uri
    return env


def _expected(uri: str, model_uri: str) -> pd.DataFrame:
    mlflow.set_tracking_uri(uri)
    return mlflow.pyfunc.load_model(model_uri).predict(pd.DataFrame({"text": TEXTS}))


@pytest.mark.slow
def test_rest_serving_answers_with_themes_and_scores(tiny_run):
    _, result, uri = tiny_run
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", result.model_uri, "--env-manager", "local",
         "-h", "127.0.0.1", "-p", str(port), "-w", "1"],
        env=_env(uri), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until_up(f"http://127.0.0.1:{port}/ping", server)
        body = json.dumps({"dataframe_split": {"columns": ["text"], "data": [[t] for t in TEXTS]}}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body,
                                         headers={"Content-Type": "application/json"})  # fmt: skip
        answer = json.loads(urllib.request.urlopen(request, timeout=60).read())
    finally:
        server.terminate()
        server.wait(timeout=30)
    predictions = answer["predictions"]
    expected = _expected(uri, result.model_uri)
    assert len(predictions) == 3
    assert [p["themes"] for p in predictions] == list(expected["themes"])
    np.testing.assert_allclose([p["score_legal_aid"] for p in predictions], expected["score_legal_aid"], atol=1e-5)


@pytest.mark.slow
def test_mlflow_models_predict_cli(tiny_run, tmp_path):
    _, result, uri = tiny_run
    source = tmp_path / "input.json"
    source.write_text(json.dumps({"dataframe_split": {"columns": ["text"], "data": [[t] for t in TEXTS]}}))
    out = tmp_path / "out.json"
    subprocess.run([sys.executable, "-m", "mlflow", "models", "predict", "-m", result.model_uri, "-i", str(source),
                    "-t", "json", "-o", str(out), "--env-manager", "local"],
                   env=_env(uri), check=True, timeout=300, capture_output=True)  # fmt: skip
    predictions = json.loads(out.read_text())["predictions"]
    assert [p["themes"] for p in predictions] == list(_expected(uri, result.model_uri)["themes"])


@pytest.mark.slow
def test_spark_udf_matches_direct_predictions(tiny_run, monkeypatch):
    if shutil.which("java") is None:
        pytest.skip("Java is not installed: Spark needs a JVM (install openjdk-17-jre-headless)")
    pyspark = pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    _, result, uri = tiny_run
    mlflow.set_tracking_uri(uri)
    # Spark's Python workers must run this environment's interpreter, whatever `python3` is on PATH.
    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)
    monkeypatch.setenv("PATH", clean_env()["PATH"])
    spark = (SparkSession.builder.master("local[2]").appName("theme-udf-test")
             .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate())  # fmt: skip
    try:
        frame = spark.createDataFrame([(i, t) for i, t in enumerate(TEXTS)], ["row", "text"])
        udf = mlflow.pyfunc.spark_udf(spark, result.model_uri, env_manager="local")
        rows = frame.withColumn("tags", udf("text")).orderBy("row").collect()
    finally:
        spark.stop()
    expected = _expected(uri, result.model_uri)
    assert [list(r["tags"]["themes"]) for r in rows] == list(expected["themes"])
    np.testing.assert_allclose([r["tags"]["score_enforcement"] for r in rows], expected["score_enforcement"], atol=1e-5)
    assert pyspark.__version__


def test_the_logged_model_takes_its_batch_size_at_load_time(tiny_run):
    # Spark and `mlflow models serve` load the pyfunc, not `trainer tag`: `batch_size` in the logged model_config
    # is how they get int8 scores that do not depend on a paragraph's batch neighbours.
    from trainer.labels import DEFAULT_GOLD, load_gold
    from trainer.taxonomy import load_taxonomy

    _, result, uri = tiny_run
    mlflow.set_tracking_uri(uri)
    texts = pd.DataFrame({"text": load_gold(DEFAULT_GOLD, load_taxonomy()).texts[:60]})
    shuffled = texts.sample(frac=1, random_state=0)

    def moved(model) -> float:
        forward, backward = model.predict(texts), model.predict(shuffled)
        return float(np.abs(forward.drop(columns="themes").loc[shuffled.index].to_numpy()
                            - backward.drop(columns="themes").to_numpy()).max())  # fmt: skip

    alone = mlflow.pyfunc.load_model(result.model_uri, model_config={"int8": True, "batch_size": 1})
    assert alone.unwrap_python_model().bundle.batch_size == 1
    assert moved(alone) == 0
    batched = mlflow.pyfunc.load_model(result.model_uri, model_config={"int8": True})
    assert batched.unwrap_python_model().bundle.batch_size == 32
    assert moved(batched) > 0
