"""`trainer tag --spark MASTER`: the same rows as the single-machine path, read and scored on Spark executors.

Executors read the report files (paths listed on the driver; on a cluster they must be on storage every node
mounts at the same path), split them with the project's reader and describe
them (place, year, kind); paragraphs are scored by the registered model through `mlflow.pyfunc.spark_udf`; the
rows and summaries are then built per report by the functions the single-machine path uses
(`trainer.tagging.paragraph_rows` / `summary_row`), so both paths write the same rows. The output is a Parquet
folder like `--out x.parquet` on one machine (`paragraphs/`, `summary/`), written as part files by the executors
in parallel and moved into place once complete.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from trainer.errors import UserError
from trainer.schema import paragraph_columns, summary_columns

# Paragraph texts a scoring task takes at once (Arrow batch of the pandas UDF).
SCORE_BATCH_ROWS = 2048


def spark_type(column: str):
    """Spark's type for an output column, from the one Arrow schema (`trainer.schema`)."""
    import pyarrow as pa
    from pyspark.sql import types as T

    from trainer.schema import arrow_type

    kind = arrow_type(column)
    return {
        pa.int64(): T.LongType(),
        pa.float64(): T.DoubleType(),
        pa.string(): T.StringType(),
        pa.list_(pa.string()): T.ArrayType(T.StringType()),
        pa.list_(pa.int64()): T.ArrayType(T.LongType()),
    }[kind]


def spark_schema(columns: list[str]):
    from pyspark.sql import types as T

    return T.StructType([T.StructField(c, spark_type(c)) for c in columns])


def _session(master: str):
    """A Spark session whose Python workers run this interpreter (and find this environment's tools)."""
    from pyspark.sql import SparkSession

    local = master.startswith("local")
    if local:
        os.environ["PYSPARK_PYTHON"] = sys.executable
        os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    builder = (
        SparkSession.builder.master(master)
        .appName("trainer-tag")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(SCORE_BATCH_ROWS))
        .config("spark.ui.showConsoleProgress", "false")
    )
    if local:
        # One Python worker per core: each scores on one thread instead of all of them fighting for every core.
        builder = builder.config("spark.executorEnv.OMP_NUM_THREADS", "1").config("spark.ui.enabled", "false")
    return builder.getOrCreate()


def _read_partition(batches):
    """Executor side: report paths -> one row per report (paragraph texts, metadata, or the reading error)."""
    from trainer.metadata import describe_report
    from trainer.reader import read_report
    from trainer.tagging import _file_key

    for frame in batches:
        out = []
        for path in frame["path"]:
            key, raw, error = _file_key(Path(path))
            if not error:
                try:
                    report = read_report(Path(path), raw)
                    texts = [p.text for p in report.paragraphs]
                    out.append({"report_path": path, "report_hash": key, "error": "", "texts": texts,
                                "report_id": report.report_id, **describe_report(path, texts)})  # fmt: skip
                    continue
                except UserError as exc:
                    error = str(exc)
            out.append({"report_path": path, "report_hash": key, "error": error, "texts": [], "report_id": "",
                        "province": "", "city": "", "county": "", "town": "", "year": None, "kind": ""})  # fmt: skip
        yield _plain(pd.DataFrame(out, columns=REPORT_COLUMNS))


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as plain objects: pandas 3's Arrow-backed strings trip PySpark's Arrow conversion."""
    for column in frame.columns:
        if pd.api.types.is_string_dtype(frame[column].dtype):
            frame[column] = frame[column].astype(object)
    return frame


REPORT_COLUMNS = ["report_path", "report_hash", "error", "texts", "report_id", "province", "city", "county", "town",
                  "year", "kind"]  # fmt: skip


def _report_schema():
    from pyspark.sql import types as T

    fields = [T.StructField(c, T.StringType()) for c in REPORT_COLUMNS]
    fields[REPORT_COLUMNS.index("texts")] = T.StructField("texts", T.ArrayType(T.StringType()))
    fields[REPORT_COLUMNS.index("year")] = T.StructField("year", T.LongType())
    return T.StructType(fields)


def _rows_of_report(taxonomy, cut: np.ndarray, want: str):
    """Executor side: one report's scored paragraphs -> its paragraph rows or its summary row."""
    from trainer.reader import Paragraph, Report
    from trainer.tagging import paragraph_rows, summary_row

    score_columns = [f"score_{t}" for t in taxonomy.ids]
    columns = paragraph_columns(taxonomy.ids) if want == "paragraphs" else summary_columns(taxonomy.ids)

    def build(frame: pd.DataFrame) -> pd.DataFrame:
        return _plain(_build(frame))

    def _build(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.sort_values("paragraph_index")
        first = frame.iloc[0]
        if first["error"]:
            if want == "paragraphs":
                return pd.DataFrame([], columns=columns)
            return pd.DataFrame([summary_row(first["report_path"], first["report_hash"], [], taxonomy,
                                             error=first["error"])], columns=columns)  # fmt: skip
        frame = frame[[isinstance(t, str) for t in frame["text"]]]  # an empty report has one row without text
        paragraphs = tuple(
            Paragraph(first["report_id"], int(i), t) for i, t in zip(frame["paragraph_index"], frame["text"])
        )
        report = Report(Path(first["report_path"]), first["report_id"], first["report_hash"], paragraphs)
        scores = frame[score_columns].to_numpy(dtype=float)
        rows = paragraph_rows(report, scores, cut, taxonomy)
        for row in rows:
            row["report_path"] = first["report_path"]
        if want == "paragraphs":
            import json

            return pd.DataFrame([{**r, "evidence": json.dumps(r["evidence"], ensure_ascii=False)} for r in rows],
                                columns=columns)  # fmt: skip
        meta = {k: first[k] for k in ("province", "city", "county", "town", "kind")}
        meta["year"] = None if pd.isna(first["year"]) else int(first["year"])
        return pd.DataFrame([summary_row(first["report_path"], first["report_hash"], rows, taxonomy, meta=meta)],
                            columns=columns)  # fmt: skip

    return build


def tag_on_spark(args, out: Path, files: list[Path], uri: str, bundle, cut: np.ndarray) -> dict:
    """Tag `files` on Spark into the Parquet folder `out`; returns counts and failures."""
    import mlflow.pyfunc
    from pyspark.sql import functions as F

    taxonomy = bundle.taxonomy
    spark = _session(args.spark)
    tmp = out.with_name(f".{out.name}.spark-tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        # Paths as given (relative ones too: local executors share the driver's folder; on a cluster give paths
        # that every node sees, e.g. a shared mount). Executors read the files themselves.
        tasks = max(spark.sparkContext.defaultParallelism * 2, min(len(files) // 25, 400), 1)
        paths = spark.createDataFrame([(str(p),) for p in files], "path string").repartition(tasks)
        reports = paths.mapInPandas(_read_partition, schema=_report_schema())
        reports = reports.persist()
        paragraphs = reports.select(
            "report_path", "report_hash", "error", "report_id", "province", "city", "county", "town", "year", "kind",
            F.posexplode_outer("texts").alias("paragraph_index", "text"),
        )  # fmt: skip
        model_config = {} if args.int8 is None else {"int8": args.int8}
        if bundle.batch_size_settable:
            model_config["batch_size"] = args.batch_size
        elif args.batch_size != bundle.batch_size:
            print(f"note: {uri} was logged before its batch size could be set; Spark scores it in batches of "
                  f"{bundle.batch_size} (--batch-size applies on one machine, or to models trained since)",
                  file=sys.stderr)  # fmt: skip
        score_columns = [f"score_{t}" for t in taxonomy.ids]
        # Only the scores come back (themes are cut from them per report, as on one machine): a struct of doubles
        # also spares PySpark's Arrow conversion the pyfunc's list column.
        score = mlflow.pyfunc.spark_udf(spark, uri, env_manager="local", model_config=model_config or None,
                                        result_type=spark_schema(score_columns))  # fmt: skip
        scored = (
            paragraphs.withColumn("tags", score(F.coalesce(F.col("text"), F.lit(""))))
            .select("*", *[F.col(f"tags.{c}").alias(c) for c in score_columns])
            .drop("tags")
        )
        scored = scored.withColumn("paragraph_index", F.coalesce(F.col("paragraph_index"), F.lit(0))).persist()
        groups = scored.groupBy("report_hash", "report_path")
        for name, columns in (("paragraphs", paragraph_columns(taxonomy.ids)),
                              ("summary", summary_columns(taxonomy.ids))):  # fmt: skip
            rows = groups.applyInPandas(_rows_of_report(taxonomy, cut, name), schema=spark_schema(columns))
            rows.write.mode("overwrite").parquet(str(tmp / name))
        failures = [(r["report_path"], r["error"]) for r in reports.where(F.col("error") != "").collect()]
        counts = {
            "reports": reports.count(),
            "paragraphs": scored.where(F.col("text").isNotNull()).count(),
            "keys": [r["report_hash"] for r in reports.select("report_hash").collect()],
        }
    finally:
        spark.stop()
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return {**counts, "failures": failures}


def check_spark_args(args, fmt: str) -> None:
    """--spark writes a Parquet folder and reruns whole; say so before anything starts."""
    if fmt != "parquet":
        raise UserError(f"--spark writes a Parquet folder: give --out NAME.parquet (not {args.out})")
    if args.resume:
        raise UserError("--spark reruns whole (Spark retries failed tasks itself); drop --resume")
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise UserError("--spark needs pyspark: pip install pyspark (and a Java runtime)") from None
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise UserError("--spark needs a Java runtime (e.g. apt-get install openjdk-17-jre-headless)")
