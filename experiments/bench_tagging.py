"""Tagging at archive scale: paragraphs/s and peak memory, one machine and Spark, plus a kill -9 and resume.

    .venv/bin/python experiments/bench_tagging.py --reports 5000 --model models:/theme-tagger@champion
    .venv/bin/python experiments/bench_tagging.py --reports 40 --model runs:/RUN/model      # a smoke-sized run

Generates --reports reports (a real title from labels/examples.jsonl's whole reports or the seeds, then
--paragraphs real paragraphs drawn at random from the seeds and examples.jsonl: real lengths, no repeated
sentence), then times, each as its own process through this interpreter:

1. `trainer tag INBOX --out single.parquet` (one machine);
2. the same to JSONL, killed with SIGKILL (whole process group) once about half of the reports are committed,
   then `--resume`d; the rows must equal the reports' paragraphs exactly (no loss, no duplicate). With
   `--kill-reports K` this runs on the first K reports only (the kill and resume test correctness, not speed);
3. `trainer tag INBOX --out spark.parquet --spark local[2]` (unless --no-spark).

Peak RSS is the largest sum over the process tree (Spark: the JVM and its Python workers too), sampled every
0.2 s. Results go to experiments/results/bench_tagging_<reports>.json and a markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def paragraph_pool() -> tuple[list[str], list[str]]:
    """(titles, paragraphs): titles of real reports, paragraphs of the seeds and the team-written examples."""
    from trainer.reader import read_report

    titles, paragraphs, seen_reports = [], [], set()
    for line in (ROOT / "labels" / "examples.jsonl").open(encoding="utf-8"):
        row = json.loads(line)
        paragraphs.append(row["text"])
        if row.get("report") and row["report"] not in seen_reports:
            seen_reports.add(row["report"])
            if len(row["text"]) <= 60:
                titles.append(row["text"])
    for seed in sorted((ROOT / "seeds").glob("*.txt")):
        texts = [p.text for p in read_report(seed).paragraphs]
        paragraphs.extend(texts)
        titles.append(texts[0][:60])
    return titles, paragraphs


def generate(inbox: Path, reports: int, per_report: int, seed: int) -> int:
    """Write the reports; returns the number of paragraphs the reader will find."""
    from trainer.reader import read_report

    rng = random.Random(seed)
    titles, pool = paragraph_pool()
    inbox.mkdir(parents=True, exist_ok=True)
    for i in range(reports):
        count = max(1, int(rng.gauss(per_report, per_report / 4)))
        body = [rng.choice(titles), *rng.sample(pool, min(count, len(pool)))]
        (inbox / f"report_{i:05d}.txt").write_text("\n\n".join(body) + "\n", encoding="utf-8")
    return sum(len(read_report(p).paragraphs) for p in sorted(inbox.glob("*.txt")))


def run(command: list[str], kill_when=None) -> dict:
    """Run a command in its own process group; peak RSS of the whole tree; optionally SIGKILL it on a condition."""
    import psutil

    started = time.time()
    process = subprocess.Popen(command, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    root, peak, killed = psutil.Process(process.pid), 0, False
    while process.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        if kill_when is not None and not killed and kill_when():
            os.killpg(process.pid, signal.SIGKILL)
            killed = True
        time.sleep(0.2)
    err = process.stderr.read()
    return {"seconds": round(time.time() - started, 1), "peak_rss_mb": round(peak / 2**20), "rc": process.returncode,
            "killed": killed, "stderr_tail": err.strip().splitlines()[-3:]}  # fmt: skip


def count_rows(out: Path) -> tuple[int, int, int]:
    """(paragraph rows, distinct (report, paragraph) keys, summary rows) of an output, read in batches."""
    from trainer.outputs import iter_paragraphs, read_summary

    rows, keys = 0, set()
    for frame in iter_paragraphs(out):
        rows += len(frame)
        keys.update(zip(frame["report_path"], frame["paragraph_index"]))
    return rows, len(keys), len(read_summary(out))


def read_summary_safe(path: Path) -> list[str]:
    """Lines of a summary file that may not exist (a run killed before its first report)."""
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=5000)
    parser.add_argument("--paragraphs", type=int, default=30, help="paragraphs per report on average")
    parser.add_argument("--model", default="models:/theme-tagger@champion")
    parser.add_argument("--work", default="/tmp/trainer-bench", help="folder for the reports and outputs")
    parser.add_argument("--spark-master", default="local[2]")
    parser.add_argument("--no-spark", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kill-reports", type=int, help="kill and resume on the first K reports (default: all)")
    parser.add_argument("--skip-single", action="store_true", help="reuse the single-machine figures of a last run")
    args = parser.parse_args()

    work = Path(args.work) / f"r{args.reports}"
    inbox = work / "inbox"
    if not inbox.exists():
        paragraphs = generate(inbox, args.reports, args.paragraphs, args.seed)
    else:
        from trainer.reader import read_report

        paragraphs = sum(len(read_report(p).paragraphs) for p in sorted(inbox.glob("*.txt")))
    print(f"{args.reports} reports, {paragraphs} paragraphs in {inbox}", file=sys.stderr)
    tag = [sys.executable, "-m", "trainer.cli", "tag", str(inbox), "--model", args.model, "--no-progress"]
    results: dict = {"reports": args.reports, "paragraphs": paragraphs, "model": args.model,
                     "cores": os.cpu_count()}  # fmt: skip

    target = ROOT / "experiments" / "results" / f"bench_tagging_{args.reports}.json"
    single = work / "single.parquet"
    if args.skip_single and target.exists():
        results["single"] = json.loads(target.read_text())["single"]
    else:
        results["single"] = run([*tag, "--out", str(single)])
        results["single"]["rows"] = count_rows(single)
    print(f"single: {results['single']}", file=sys.stderr, flush=True)

    kill_reports, kill_paragraphs, kill_tag = args.reports, paragraphs, tag
    if args.kill_reports and args.kill_reports < args.reports:
        from trainer.reader import read_report

        kill_inbox = work / f"inbox_first{args.kill_reports}"
        kill_inbox.mkdir(exist_ok=True)
        for report in sorted(inbox.glob("*.txt"))[: args.kill_reports]:
            if not (kill_inbox / report.name).exists():
                (kill_inbox / report.name).symlink_to(report)
        kill_reports = args.kill_reports
        kill_paragraphs = sum(len(read_report(p).paragraphs) for p in sorted(kill_inbox.glob("*.txt")))
        kill_tag = [*tag[:4], str(kill_inbox), *tag[5:]]
    results["kill_resume_reports"], results["kill_resume_paragraphs"] = kill_reports, kill_paragraphs
    killed = work / "killed.jsonl"
    ledger = work / "killed.ledger.jsonl"
    for stale in (killed, ledger, work / "killed.summary.jsonl"):
        stale.unlink(missing_ok=True)

    def half_committed() -> bool:
        if not ledger.exists():
            return False
        reports = sum(
            len(json.loads(line)["reports"]) for line in ledger.read_text().splitlines() if line.endswith("}")
        )
        return reports >= kill_reports // 2

    results["killed"] = run([*kill_tag, "--out", str(killed)], kill_when=half_committed)
    results["killed"]["committed_reports"] = len(read_summary_safe(work / "killed.summary.jsonl"))
    results["resumed"] = run([*kill_tag, "--out", str(killed), "--resume"])
    rows, distinct, summaries = count_rows(killed)
    results["resumed"]["rows"] = [rows, distinct, summaries]
    results["kill_resume_exact"] = rows == distinct == kill_paragraphs and summaries == kill_reports
    print(f"kill/resume: {results['killed']} {results['resumed']}", file=sys.stderr, flush=True)

    if not args.no_spark:
        spark = work / "spark.parquet"
        results["spark"] = run([*tag, "--out", str(spark), "--spark", args.spark_master])
        results["spark"]["rows"] = count_rows(spark)

    print("| run | seconds | paragraphs/s | peak RSS (MB) | rows |\n|---|---|---|---|---|")
    for name in ("single", "killed", "resumed", "spark"):
        if name in results:
            r = results[name]
            rate = "" if name in ("killed", "resumed") else f"{paragraphs / max(r['seconds'], 1e-6):.1f}"
            print(f"| {name} | {r['seconds']} | {rate} | {r['peak_rss_mb']} | {r.get('rows', '')} |")
    print(f"kill -9 at half of {kill_reports} reports ({kill_paragraphs} paragraphs), then --resume: "
          f"rows exact = {results['kill_resume_exact']}")  # fmt: skip
    target.write_text(json.dumps(results, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
