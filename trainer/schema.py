"""Columns of the tag outputs, defined once for every writer (JSONL, CSV, Parquet, XLSX, Spark) and reader."""

from __future__ import annotations

import json

META_COLUMNS = ("province", "city", "county", "town", "year", "kind")


def paragraph_columns(theme_ids: list[str]) -> list[str]:
    return ["report_path", "report_hash", "paragraph_index", "paragraph_id", "text", "themes", "evidence",
            *[f"score_{t}" for t in theme_ids]]  # fmt: skip


def summary_columns(theme_ids: list[str]) -> list[str]:
    per_theme = [f"{kind}_{t}" for t in theme_ids for kind in ("paragraphs", "share", "top")]
    return ["report_path", "report_hash", "status", "error", *META_COLUMNS, "paragraphs", "chars",
            "no_theme_paragraphs", *per_theme]  # fmt: skip


def arrow_type(column: str):
    """The Arrow type of a column; Spark's schema is derived from the same function."""
    import pyarrow as pa

    if column in ("paragraph_index", "year", "paragraphs", "chars", "no_theme_paragraphs") or column.startswith(
        "paragraphs_"
    ):
        return pa.int64()
    if column.startswith(("score_", "share_")):
        return pa.float64()
    if column == "themes":
        return pa.list_(pa.string())
    if column.startswith("top_"):
        return pa.list_(pa.int64())
    return pa.string()  # text, paths, metadata, and evidence as a JSON object


def arrow_schema(columns: list[str]):
    import pyarrow as pa

    return pa.schema([(c, arrow_type(c)) for c in columns])


def arrow_table(name: str, rows: list[dict], columns: list[str]):
    """Rows as an Arrow table of the fixed schema (evidence as JSON text, as in CSV)."""
    import pyarrow as pa

    if "evidence" in columns:
        rows = [{**r, "evidence": json.dumps(r["evidence"], ensure_ascii=False)} for r in rows]
    return pa.Table.from_pylist(rows, schema=arrow_schema(columns))
