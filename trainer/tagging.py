"""`trainer tag`: tag every paragraph of incoming reports with a registered model.

Reports are read with the project's reader, paragraphs of several reports are
scored together (length-sorted batches inside the model), and per-paragraph
rows plus per-report summaries are checkpointed atomically as the run goes,
so a crash or Ctrl-C never leaves a half-written file and `--resume` picks up
where the last checkpoint left off.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from trainer.errors import UserError
from trainer.outputs import output_format, read_outputs, write_outputs
from trainer.pyfunc import Bundle, is_quantized
from trainer.reader import Report, find_report_files, read_reports
from trainer.taxonomy import Taxonomy
from trainer.textnorm import model_text

CHUNK_PARAGRAPHS = 256
CHECKPOINT_SECONDS = 30.0
TOP_PARAGRAPHS = 3


def resolve_model_uri(model: str | None, registered_name: str, tracking_uri: str | None) -> str:
    """An explicit URI or folder as given; else the champion, falling back to the candidate."""
    if model:
        return model
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from trainer import tracking

    uri = tracking_uri or tracking.connect()
    client = MlflowClient(uri, registry_uri=uri)
    for alias in ("champion", "candidate"):
        try:
            client.get_model_version_by_alias(registered_name, alias)
        except MlflowException:
            continue
        if alias == "candidate":
            print(f"notice: no '{registered_name}@champion' yet; using @candidate "
                  f"(promote one with: trainer promote {registered_name} VERSION)", file=sys.stderr)  # fmt: skip
        return f"models:/{registered_name}@{alias}"
    raise UserError(f"no registered model '{registered_name}' with alias champion or candidate in {uri}; "
                    "train one first (trainer train configs/default.yaml) or pass --model")  # fmt: skip


def load_bundle(model_uri: str, int8: bool | None, tracking_uri: str | None) -> Bundle:
    """The model bundle behind an MLflow model URI or a local folder; int8=None keeps the model's logged default."""
    local = Path(model_uri)
    if local.is_dir() and (local / "thresholds.json").exists():
        return Bundle(local, int8=bool(int8))
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException

    from trainer import tracking

    if tracking_uri:
        import mlflow

        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
    elif not local.is_dir():
        tracking.connect()
    try:
        loaded = mlflow.pyfunc.load_model(model_uri, model_config=None if int8 is None else {"int8": int8})
    except (MlflowException, OSError) as exc:
        message = getattr(exc, "message", str(exc)).splitlines()[0]
        raise UserError(f"--model {model_uri}: cannot load the model ({message})") from None
    return loaded.unwrap_python_model().bundle


def salient_span(text: str, keywords: tuple[str, ...]) -> str:
    """The sentence sharing most characters with a theme's keywords (evidence when none occurs verbatim)."""
    chars = set("".join(keywords))
    sentences = [s for s in re.split(r"(?<=[。；;！？!?])", text) if s.strip()]
    if not sentences:
        return ""
    best = max(sentences, key=lambda s: sum(c in chars for c in s) / (len(s) ** 0.5))
    return best[:80]


def _as_written(span: str, text: str, read: str) -> str:
    """`span` of the model's reading `read` in the script of the original `text` (where their characters align)."""
    at = read.find(span)
    return text[at : at + len(span)] if span and at >= 0 and len(read) == len(text) else span


def evidence_for(taxonomy: Taxonomy, themes: list[str], text: str) -> dict[str, list[str]]:
    """Keywords (or the most keyword-like sentence) of each theme, looked up in the text the model read."""
    read = model_text(text)
    evidence = {}
    for theme in themes:
        found = taxonomy.keywords_found(theme, read)
        spans = found if found else [salient_span(read, taxonomy.theme(theme).keywords)]
        evidence[theme] = [_as_written(span, text, read) for span in spans]
    return evidence


def paragraph_rows(report: Report, scores: np.ndarray, cut: np.ndarray, taxonomy: Taxonomy) -> list[dict]:
    rows = []
    for p, row in zip(report.paragraphs, scores):
        themes = [taxonomy.ids[j] for j in np.flatnonzero(row >= cut)]
        rows.append({
            "report_path": str(report.path), "report_hash": report.sha256, "paragraph_index": p.index,
            "paragraph_id": p.id, "text": p.text, "themes": themes,
            "evidence": evidence_for(taxonomy, themes, p.text),
            **{f"score_{t}": round(float(row[j]), 4) for j, t in enumerate(taxonomy.ids)},
        })  # fmt: skip
    return rows


def summary_row(report_path: str, report_hash: str, rows: list[dict], taxonomy: Taxonomy, error: str = "") -> dict:
    """Per-report picture: paragraphs per theme, share of text per theme, top paragraphs per theme."""
    total_chars = sum(len(r["text"]) for r in rows) or 1
    summary = {"report_path": report_path, "report_hash": report_hash, "status": "error" if error else "ok",
               "error": error, "paragraphs": len(rows), "chars": sum(len(r["text"]) for r in rows),
               "no_theme_paragraphs": sum(1 for r in rows if not r["themes"])}  # fmt: skip
    for theme in taxonomy.ids:
        tagged = [r for r in rows if theme in r["themes"]]
        top = sorted(tagged, key=lambda r: -r[f"score_{theme}"])[:TOP_PARAGRAPHS]
        summary[f"paragraphs_{theme}"] = len(tagged)
        summary[f"share_{theme}"] = round(sum(len(r["text"]) for r in tagged) / total_chars, 4)
        summary[f"top_{theme}"] = [r["paragraph_index"] for r in top]
    return summary


class Progress:
    def __init__(self, total: int, enabled: bool):
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit="report", disable=not enabled, file=sys.stderr, dynamic_ncols=True)
        self.started, self.paragraphs = time.time(), 0

    def update(self, reports: int, paragraphs: int) -> None:
        self.paragraphs += paragraphs
        elapsed = max(time.time() - self.started, 1e-6)
        self.bar.update(reports)
        self.bar.set_postfix(reports_s=f"{self.bar.n / elapsed:.2f}", paragraphs_s=f"{self.paragraphs / elapsed:.1f}")

    def close(self) -> None:
        self.bar.close()


def run_tagging(args) -> int:
    out = Path(args.out)
    fmt = output_format(out, args.format)
    if args.batch_size < 1:
        raise UserError(f"--batch-size {args.batch_size}: must be at least 1")
    if args.threshold is not None and not 0 < args.threshold < 1:
        raise UserError(f"--threshold {args.threshold}: must be between 0 and 1")
    if not (args.model and Path(args.model).is_dir()):  # a local model folder needs no tracking server
        from trainer.tracking import check_reachable

        check_reachable(args.tracking_uri)
    files = find_report_files(args.inputs)
    if not files:
        raise UserError(f"no report files found in {' '.join(args.inputs)}")
    previous = read_outputs(out, fmt) if args.resume else None
    para_rows: list[dict] = []
    summaries: list[dict] = []
    done_hashes: set[str] = set()
    if previous is not None:
        old_paras, old_summary = previous
        if len(old_summary):
            ok = old_summary[old_summary["status"] == "ok"]
            done_hashes = set(ok["report_hash"])
            summaries = ok.to_dict("records")
            if len(old_paras):
                para_rows = old_paras[old_paras["report_hash"].isin(done_hashes)].to_dict("records")
    if done_hashes:
        print(f"resume: {len(done_hashes)} report(s) already in {out}", file=sys.stderr)

    uri = resolve_model_uri(args.model, args.registered_name, args.tracking_uri)
    bundle = load_bundle(uri, args.int8, args.tracking_uri)
    taxonomy = bundle.taxonomy
    cut = bundle.thresholds if args.threshold is None else np.full(len(taxonomy), args.threshold)
    print(f"model: {uri}{' (int8)' if is_quantized(bundle.model) else ''}; {len(files)} file(s)", file=sys.stderr)

    failures: list[tuple[str, str]] = []
    progress = Progress(len(files), enabled=not args.no_progress)
    pending: list[Report] = []
    last_checkpoint = time.time()

    def flush() -> None:
        texts = [p.text for r in pending for p in r.paragraphs]
        scores = bundle.scores(texts, batch_size=args.batch_size)
        start = 0
        for report in pending:
            part = scores[start : start + len(report.paragraphs)]
            start += len(report.paragraphs)
            rows = paragraph_rows(report, part, cut, taxonomy)
            para_rows.extend(rows)
            summaries.append(summary_row(str(report.path), report.sha256, rows, taxonomy))
            done_hashes.add(report.sha256)
        progress.update(len(pending), len(texts))
        pending.clear()

    def checkpoint() -> None:
        columns = ["report_path", "report_hash", "paragraph_index", "paragraph_id", "text", "themes", "evidence",
                   *[f"score_{t}" for t in taxonomy.ids]]  # fmt: skip
        failed = [summary_row(path, "", [], taxonomy, error=reason) for path, reason in failures]
        write_outputs(out, fmt, pd.DataFrame(para_rows, columns=columns), pd.DataFrame(summaries + failed))

    try:
        for path, report, error in read_reports(files):
            if error:
                failures.append((str(path), error))
                progress.update(1, 0)
                continue
            if report.sha256 in done_hashes:
                progress.update(1, 0)
                continue
            pending.append(report)
            if sum(len(r.paragraphs) for r in pending) >= CHUNK_PARAGRAPHS:
                flush()
                if time.time() - last_checkpoint > CHECKPOINT_SECONDS:
                    checkpoint()
                    last_checkpoint = time.time()
        flush()
    except KeyboardInterrupt:
        pending.clear()
        checkpoint()
        progress.close()
        print(f"interrupted: {len(summaries)} report(s) saved in {out}; run again with --resume", file=sys.stderr)
        return 130
    checkpoint()
    progress.close()
    n_paragraphs = sum(1 for _ in para_rows)
    print(f"tagged {len(summaries)} report(s), {n_paragraphs} paragraph(s) -> {out}", file=sys.stderr)
    if failures:
        print(f"{len(failures)} report(s) could not be read:", file=sys.stderr)
        for _path, reason in failures:
            print(f"  {reason}", file=sys.stderr)
        return 1
    return 0
