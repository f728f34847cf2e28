"""Tag a folder of reports on Spark with the registered model (the cluster version of `trainer tag`).

    spark-submit --master local[2] experiments/spark_tag.py INPUT_DIR OUTPUT_DIR [MODEL_URI]

On a cluster use `--master yarn` (or k8s://...), install this package on the workers and set
MLFLOW_TRACKING_URI to the team's MLflow server. Reports are split into paragraphs with the
project's reader on the executors, then scored by `mlflow.pyfunc.spark_udf`; the result is
one Parquet row per paragraph with its themes and all 17 scores.
"""

from __future__ import annotations

import sys

import mlflow
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, IntegerType, StringType, StructField, StructType

PARAGRAPH = ArrayType(StructType([StructField("paragraph_index", IntegerType()), StructField("text", StringType())]))


def _paragraphs(path: str) -> list[tuple[int, str]]:
    from trainer.errors import UserError
    from trainer.reader import read_report

    try:
        return [(p.index, p.text) for p in read_report(path.removeprefix("file:")).paragraphs]
    except UserError:
        return []


def main() -> None:
    source, target = sys.argv[1], sys.argv[2]
    model_uri = sys.argv[3] if len(sys.argv) > 3 else "models:/theme-tagger@champion"
    spark = SparkSession.builder.appName("theme-tagging").getOrCreate()
    files = spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(source).select("path")
    split = F.udf(_paragraphs, PARAGRAPH)
    paragraphs = files.withColumn("p", F.explode(split("path"))).select(
        F.col("path").alias("report_path"), "p.paragraph_index", "p.text"
    )
    tag = mlflow.pyfunc.spark_udf(spark, model_uri, env_manager="local")
    tagged = paragraphs.withColumn("tags", tag("text")).select("report_path", "paragraph_index", "text", "tags.*")
    tagged.write.mode("overwrite").parquet(target)
    spark.stop()


if __name__ == "__main__":
    main()
