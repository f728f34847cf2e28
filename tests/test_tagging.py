"""`trainer tag` on a folder of real-world input: good reports tagged, bad ones reported, nothing lost."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import ROOT
from trainer.cli import main
from trainer.config import load_config
from trainer.outputs import read_tags

AID = "全年受理法律援助案件608宗，接待来访来电群众咨询6706次，帮助受援人挽回经济损失约5536万元。"
ENFORCE = "推进街道综合行政执法改革，开展全区行政执法人员轮训，组织执法案卷评查3次。"
MEDIATE = "发挥人民调解“第一道防线”作用，开展矛盾纠纷排查1224场次，调解成功2943宗。"


@pytest.fixture
def inbox(tmp_path) -> Path:
    """Reports of every supported format, plus an empty, a binary and a GBK file."""
    import docx

    folder = tmp_path / "inbox"
    (folder / "sub").mkdir(parents=True)
    (folder / "a_utf8.txt").write_text(f"某区司法局2024年工作总结\n{AID}\n{ENFORCE}\n", encoding="utf-8")
    (folder / "b_gbk.txt").write_bytes(f"{MEDIATE}\n{AID}\n".encode("gbk"))
    html = (f"<html><head><title>t</title></head><body><div class='nav'>首页 > 工作动态</div><article><h1>某区法治建设</h1>"
            f"<p>{ENFORCE}</p><p>{MEDIATE}</p></article><footer>版权所有 某区司法局</footer></body></html>")  # fmt: skip
    (folder / "sub" / "c_page.html").write_text(html, encoding="utf-8")
    document = docx.Document()
    for text in ("某街道2023年法治政府建设年度报告", AID, MEDIATE):
        document.add_paragraph(text)
    document.save(folder / "sub" / "d_report.docx")
    (folder / "e_empty.txt").write_bytes(b"")
    (folder / "f_binary.txt").write_bytes(bytes(range(256)) * 40)
    return folder


def _tag(inbox: Path, out: Path, bundle_dir: Path, *extra: str) -> int:
    return main(["tag", str(inbox), "--model", str(bundle_dir), "--out", str(out), "--no-progress", *extra])


def test_tags_every_good_report_and_reports_the_bad_one(inbox, bundle_dir, tmp_path, capsys):
    out = tmp_path / "tags.jsonl"
    assert _tag(inbox, out, bundle_dir) == 1  # one unreadable file -> non-zero exit
    err = capsys.readouterr().err
    assert "f_binary.txt" in err and "binary" in err
    rows = pd.read_json(out, lines=True)
    summary = pd.read_json(out.with_name("tags.summary.jsonl"), lines=True)
    assert set(Path(p).name for p in rows["report_path"]) == {"a_utf8.txt", "b_gbk.txt", "c_page.html", "d_report.docx"}
    gbk = rows[rows["report_path"].str.endswith("b_gbk.txt")]
    assert gbk["text"].iloc[0] == MEDIATE  # decoded correctly
    aid_rows = rows[rows["text"] == AID]
    assert len(aid_rows) == 3 and all("legal_aid" in t for t in aid_rows["themes"])
    assert all(any("法律援助" in k for k in e["legal_aid"]) for e in aid_rows["evidence"])  # e.g. 法律援助案件
    assert not any("版权所有" in t for t in rows["text"])
    by_name = {Path(p).name: r for p, r in zip(summary["report_path"], summary.to_dict("records"))}
    assert by_name["e_empty.txt"]["paragraphs"] == 0 and by_name["e_empty.txt"]["status"] == "ok"
    assert by_name["f_binary.txt"]["status"] == "error"
    assert by_name["a_utf8.txt"]["paragraphs"] == 3
    assert by_name["a_utf8.txt"]["paragraphs_legal_aid"] == 1
    assert 0 < by_name["a_utf8.txt"]["share_legal_aid"] < 1
    assert len(by_name["a_utf8.txt"]["top_legal_aid"]) == 1
    for column in [c for c in rows.columns if c.startswith("score_")]:
        assert rows[column].between(0, 1).all()


# AID and MEDIATE as a 繁體 mirror (UTF-8) or a Taiwan/Hong Kong source (Big5) writes them
AID_TRADITIONAL = "全年受理法律援助案件608宗，接待來訪來電群眾諮詢6706次，幫助受援人挽回經濟損失約5536萬元。"
MEDIATE_TRADITIONAL = "發揮人民調解「第一道防線」作用，開展矛盾糾紛排查1224場次，調解成功2943宗。"


def test_traditional_reports_are_tagged_like_their_simplified_form(bundle_dir, tmp_path):
    """Scores, themes and paragraphs as for the simplified report; the text column and the evidence keep
    the report's own characters."""
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "a_simplified.txt").write_text(f"{MEDIATE}\n{AID}\n", encoding="utf-8")
    (folder / "b_mirror.txt").write_text(f"{MEDIATE_TRADITIONAL}\n{AID_TRADITIONAL}\n", encoding="utf-8")
    (folder / "c_big5.txt").write_bytes(f"{MEDIATE_TRADITIONAL}\r\n{AID_TRADITIONAL}\r\n".encode("cp950"))
    out = tmp_path / "tags.jsonl"
    assert _tag(folder, out, bundle_dir, "--threshold", "0.2") == 0
    rows = pd.read_json(out, lines=True)
    by_name = {name: rows[rows["report_path"].str.endswith(name)].reset_index(drop=True)
               for name in ("a_simplified.txt", "b_mirror.txt", "c_big5.txt")}  # fmt: skip
    simplified = by_name["a_simplified.txt"]
    assert "mediation" in simplified["themes"][0]
    scores = [c for c in rows.columns if c.startswith("score_")]
    for name in ("b_mirror.txt", "c_big5.txt"):
        tagged = by_name[name]
        assert list(tagged["text"]) == [MEDIATE_TRADITIONAL, AID_TRADITIONAL]
        assert list(tagged["themes"]) == list(simplified["themes"])
        pd.testing.assert_frame_equal(tagged[scores], simplified[scores])
        assert "人民調解" in tagged["evidence"][0]["mediation"]  # found as 人民调解, shown as written
        assert "人民调解" in simplified["evidence"][0]["mediation"]


def test_resume_after_interruption_gives_exactly_the_uninterrupted_rows(inbox, bundle_dir, tmp_path):
    full = tmp_path / "full.jsonl"
    _tag(inbox, full, bundle_dir)
    # An interrupted run: only part of the folder was tagged before it stopped.
    partial = tmp_path / "partial.jsonl"
    _tag(inbox / "sub", partial, bundle_dir)
    assert _tag(inbox, partial, bundle_dir, "--resume") == 1
    assert _tag(inbox, partial, bundle_dir, "--resume") == 1  # running again adds nothing
    key = ["report_path", "paragraph_index"]
    a = pd.read_json(full, lines=True).sort_values(key).reset_index(drop=True)
    b = pd.read_json(partial, lines=True).sort_values(key).reset_index(drop=True)
    assert not b.duplicated(key).any()
    pd.testing.assert_frame_equal(a, b)


def test_xlsx_has_paragraph_and_summary_sheets(inbox, bundle_dir, tmp_path):
    out = tmp_path / "tags.xlsx"
    _tag(inbox, out, bundle_dir)
    sheets = pd.read_excel(out, sheet_name=None)
    assert set(sheets) == {"paragraphs", "summary"}
    assert len(sheets["paragraphs"]) == 11  # 3 + 2 (GBK) + 3 (HTML: title, 2 paragraphs) + 3 (docx)
    assert "legal_aid" in sheets["paragraphs"]["themes"].iloc[1]
    assert not list(tmp_path.glob(".tags.xlsx.*"))  # no temp file left behind


def test_csv_output_and_threshold_override(inbox, bundle_dir, tmp_path):
    out = tmp_path / "tags.csv"
    _tag(inbox / "a_utf8.txt", out, bundle_dir, "--threshold", "0.01")
    rows = pd.read_csv(out)
    assert len(rows) == 3
    assert all(len(str(t).split(";")) > 5 for t in rows["themes"])
    assert (tmp_path / "tags.summary.csv").exists()


def test_bad_arguments_are_one_line_errors(inbox, bundle_dir, tmp_path, capsys):
    assert main(["tag", str(tmp_path / "missing"), "--model", str(bundle_dir), "--out", str(tmp_path / "x.jsonl")]) == 2
    assert main(["tag", str(inbox), "--model", str(bundle_dir), "--out", str(tmp_path / "x.tsv")]) == 2
    assert main(["tag", str(inbox), "--model", str(tmp_path / "nomodel"), "--out", str(tmp_path / "x.jsonl")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("error: ") for line in err)
    assert not (tmp_path / "x.jsonl").exists()


def test_an_unwritable_output_fails_in_one_line_before_the_model_loads(inbox, tmp_path, capsys):
    # The model does not exist either: the output is checked first, so the error is about --out.
    for out in ("/proc/nope/t.jsonl", "/proc/nope/t.parquet", str(inbox / "a_utf8.txt" / "t.csv")):
        assert main(["tag", str(inbox), "--model", str(tmp_path / "nomodel"), "--out", out]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"error: --out {out}: ") and "model" not in err[0]


def test_tagging_a_seed_with_the_registered_champion(tiny_bert, tmp_path, store, capsys):
    from trainer.training import train

    config = load_config(ROOT / "configs" / "keywords.yaml", [f"tracking.tracking_uri={store}"])
    result = train(config, echo=lambda s: None)
    out = tmp_path / "seed.jsonl"
    args = ["tag", str(ROOT / "seeds" / "002_6416096977825b04.txt"), "--out", str(out), "--tracking-uri", store,
            "--no-progress"]  # fmt: skip
    assert main(args) == 0
    assert "using @candidate" in capsys.readouterr().err
    assert main(["promote", "theme-tagger", result.model_version, "--tracking-uri", store]) == 0
    assert main(args) == 0
    assert "using @candidate" not in capsys.readouterr().err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 17
    assert any("mediation" in r["themes"] for r in rows)


def _sorted(frame: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    return frame.sort_values(key).reset_index(drop=True)


def _same_rows(first: Path, second: Path) -> None:
    """Two outputs hold the same paragraph and summary rows, whatever their formats."""
    (pa, sa), (pb, sb) = read_tags(first), read_tags(second)
    key = ["report_path", "paragraph_index"]
    assert not pb.duplicated(key).any() and not sb.duplicated(["report_path"]).any()
    a, b = _sorted(pa, key), _sorted(pb, key)
    assert list(a.columns) == list(b.columns)
    assert a[["report_path", "paragraph_index", "text"]].equals(b[["report_path", "paragraph_index", "text"]])
    assert list(a["themes"]) == list(b["themes"]) and list(a["evidence"]) == list(b["evidence"])
    scores = [c for c in a.columns if c.startswith("score_")]
    assert (a[scores].to_numpy() == b[scores].to_numpy()).all()
    sa, sb = _sorted(sa, ["report_path"]), _sorted(sb, ["report_path"])
    for column in ("status", "paragraphs", "chars", "share_legal_aid", "top_legal_aid", "kind", "county"):
        assert [str(v) for v in sa[column]] == [str(v) for v in sb[column]], column


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_every_format_holds_the_same_rows_as_jsonl(inbox, bundle_dir, tmp_path, fmt):
    _tag(inbox, tmp_path / "tags.jsonl", bundle_dir)
    _tag(inbox, tmp_path / f"tags.{fmt}", bundle_dir)
    _same_rows(tmp_path / "tags.jsonl", tmp_path / f"tags.{fmt}")


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_resume_cuts_a_torn_tail_and_an_unrecorded_chunk(inbox, bundle_dir, tmp_path, monkeypatch, fmt):
    """A kill -9 between writing a chunk and recording it, mid-line: resuming loses and repeats nothing."""
    import trainer.outputs
    import trainer.tagging

    monkeypatch.setattr(trainer.tagging, "CHUNK_PARAGRAPHS", 2)  # one commit every report or two
    monkeypatch.setattr(trainer.outputs, "PARQUET_PART_ROWS", 1)
    full = tmp_path / f"full.{fmt}"
    _tag(inbox, full, bundle_dir)
    crashed = tmp_path / f"crashed.{fmt}"
    _tag(inbox, crashed, bundle_dir)
    ledger = crashed / "_ledger.jsonl" if fmt == "parquet" else crashed.with_name("crashed.ledger.jsonl")
    lines = ledger.read_text(encoding="utf-8").splitlines(keepends=True)
    assert len(lines) >= 3
    # The last two chunks were written but never recorded, and the kill tore the ledger's and the data's last line.
    ledger.write_text("".join(lines[:-2]) + lines[-2][: len(lines[-2]) // 2], encoding="utf-8")
    if fmt == "parquet":
        (crashed / "paragraphs" / "part-00099.parquet").write_bytes(b"PAR1 torn")
    else:
        for data in (crashed, crashed.with_name(f"crashed.summary.{fmt}")):
            with data.open("a", encoding="utf-8") as handle:
                handle.write('{"report_path": "torn')
    assert _tag(inbox, crashed, bundle_dir, "--resume") == 1
    _same_rows(full, crashed)
    assert _tag(inbox, crashed, bundle_dir, "--resume") == 1  # again: nothing added
    _same_rows(full, crashed)


def test_resume_reads_only_the_ledger(inbox, bundle_dir, tmp_path, capsys):
    out = tmp_path / "tags.jsonl"
    _tag(inbox, out, bundle_dir)
    out.write_text("not json at all\n")  # resume never parses the rows it keeps
    out.with_name("tags.summary.jsonl").write_text("x" * 10_000 + "\n")
    capsys.readouterr()
    assert _tag(inbox, out, bundle_dir, "--resume") == 2
    assert "shorter than its ledger" in capsys.readouterr().err  # but notices files changed under it


def test_xlsx_past_the_sheet_limit_names_the_other_formats(inbox, bundle_dir, tmp_path, monkeypatch, capsys):
    import trainer.outputs

    monkeypatch.setattr(trainer.outputs, "EXCEL_MAX_ROWS", 5)
    out = tmp_path / "tags.xlsx"
    assert _tag(inbox, out, bundle_dir) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: --out") and all(f in err for f in (".jsonl", ".csv", ".parquet"))
    assert not out.exists()
    assert len((tmp_path / "tags.xlsx.stream" / "tags.jsonl").read_text().splitlines()) == 11  # nothing lost


def test_log_run_records_the_batch_and_links_it_to_the_model_version(tmp_path, store):
    import mlflow
    from mlflow.tracking import MlflowClient

    from trainer.lineage import input_digest
    from trainer.training import train

    config = load_config(ROOT / "configs" / "keywords.yaml", [f"tracking.tracking_uri={store}"])
    result = train(config, echo=lambda s: None)
    out = tmp_path / "tags.jsonl"
    seeds = sorted((ROOT / "seeds").glob("*.txt"))[:2]
    args = ["tag", *map(str, seeds), "--out", str(out), "--tracking-uri", store, "--no-progress", "--log-run"]
    assert main(args) == 0
    # From the model version to what it tagged:
    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(
        experiment_names=["theme-tagging-batches"],
        filter_string=f"tags.model_name = 'theme-tagger' AND tags.model_version = '{result.model_version}'",
        output_format="list",
    )
    assert len(runs) == 1
    run = runs[0]
    assert run.data.tags["model_source_run_id"] == result.run_id
    assert run.data.tags["model_uri"] == "models:/theme-tagger@candidate"
    import hashlib

    assert run.data.params["input_digest"] == input_digest([hashlib.sha256(p.read_bytes()).hexdigest() for p in seeds])
    rows = out.read_text().splitlines()
    assert run.data.metrics["paragraphs"] == len(rows) and run.data.metrics["reports"] == 2
    artifacts = {a.path for a in MlflowClient(store).list_artifacts(run.info.run_id, "tags")}
    assert {"tags/summary.json", "tags/places_x_themes.png", "tags/report.html"} <= artifacts
    table = mlflow.load_table("tags/summary.json", run_ids=[run.info.run_id])
    assert sorted(table["county"]) == ["光明区", "宝安区"]


@pytest.mark.slow
def test_spark_local_gives_the_same_rows_as_one_machine(inbox, tmp_path, store, capsys):
    import shutil

    if os.environ.get("CI") != "true" and shutil.which("java") is None:
        pytest.skip("Spark needs Java (apt-get install openjdk-17-jre-headless)")
    from trainer.training import train

    config = load_config(ROOT / "configs" / "keywords.yaml", [f"tracking.tracking_uri={store}"])
    train(config, echo=lambda s: None)
    common = ["--tracking-uri", store, "--no-progress"]
    one = tmp_path / "one.parquet"
    assert main(["tag", str(inbox), "--out", str(one), *common]) == 1
    spark = tmp_path / "spark.parquet"
    capsys.readouterr()
    assert main(["tag", str(inbox), "--out", str(spark), "--spark", "local[2]", *common]) == 1  # the binary file
    err = capsys.readouterr().err
    assert "f_binary.txt" in err and "tagged 5 report(s), 11 paragraph(s)" in err, err
    _same_rows(one, spark)
    (_, s1), (_, s2) = read_tags(one), read_tags(spark)
    for column in ("error", "province", "county", "year", "kind", "top_mediation", "paragraphs_enforcement"):
        assert sorted(map(str, s1[column])) == sorted(map(str, s2[column])), column
    assert (spark / "paragraphs" / "_SUCCESS").exists()
    assert not list(tmp_path.glob(".spark.parquet*"))


@pytest.mark.slow
def test_spark_at_batch_size_one_gives_one_machines_int8_scores_exactly(inbox, tmp_path, tiny_run, capsys):
    # int8 scores depend on batch neighbours, and Spark batches paragraphs of several reports together; with
    # --batch-size 1 (handed to the model as it loads on the executors) both paths score every paragraph alone.
    import shutil

    if os.environ.get("CI") != "true" and shutil.which("java") is None:
        pytest.skip("Spark needs Java (apt-get install openjdk-17-jre-headless)")
    _, result, uri = tiny_run
    common = ["--model", result.model_uri, "--tracking-uri", uri, "--no-progress", "--int8", "--batch-size", "1"]
    one = tmp_path / "one.parquet"
    assert main(["tag", str(inbox), "--out", str(one), *common]) == 1  # the binary file
    spark = tmp_path / "spark.parquet"
    capsys.readouterr()
    assert main(["tag", str(inbox), "--out", str(spark), "--spark", "local[2]", *common]) == 1
    assert "batches of" not in capsys.readouterr().err
    _same_rows(one, spark)


def test_spark_arguments_are_checked_before_anything_starts(inbox, bundle_dir, tmp_path, capsys):
    assert main(["tag", str(inbox), "--model", str(bundle_dir), "--out", str(tmp_path / "t.jsonl"), "--spark"]) == 2
    assert main(["tag", str(inbox), "--out", str(tmp_path / "t.parquet"), "--spark", "--resume"]) == 2
    assert main(["tag", str(inbox), "--model", str(bundle_dir), "--out", str(tmp_path / "t.parquet"), "--spark"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and "Parquet" in err[0] and "--resume" in err[1] and "MLflow model" in err[2]


@pytest.mark.slow
def test_a_real_kill_9_mid_run_then_resume_gives_exact_rows(bundle_dir, tmp_path):
    import random
    import signal
    import subprocess
    import sys
    import time

    from trainer.reader import read_report

    pool = [p.text for seed in sorted((ROOT / "seeds").glob("*.txt")) for p in read_report(seed).paragraphs]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    rng = random.Random(0)
    for i in range(150):
        (inbox / f"r{i:03d}.txt").write_text("\n\n".join(rng.sample(pool, 20)), encoding="utf-8")
    out, ledger = tmp_path / "tags.jsonl", tmp_path / "tags.ledger.jsonl"
    command = [sys.executable, "-m", "trainer.cli", "tag", str(inbox), "--model", str(bundle_dir), "--out", str(out),
               "--no-progress"]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while process.poll() is None and time.time() < deadline:
        if ledger.exists() and ledger.read_text().count("\n") >= 2:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    assert process.wait(timeout=60) == -signal.SIGKILL  # killed mid-run, not finished
    committed = sum(len(json.loads(line)["reports"]) for line in ledger.read_text().splitlines() if line.endswith("}"))
    assert 0 < committed < 150
    assert subprocess.run([*command, "--resume"], cwd=ROOT, capture_output=True, timeout=300).returncode == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    keys = [(r["report_path"], r["paragraph_index"]) for r in rows]
    assert len(keys) == len(set(keys)) == 150 * 20
    summary = out.with_name("tags.summary.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(summary) == 150


def test_ctrl_c_keeps_the_finished_reports_and_resume_completes(inbox, bundle_dir, tmp_path, monkeypatch):
    import trainer.tagging

    full = tmp_path / "full.jsonl"
    _tag(inbox, full, bundle_dir)
    monkeypatch.setattr(trainer.tagging, "CHUNK_PARAGRAPHS", 2)
    real, calls = trainer.tagging.report_rows, []

    def interrupted_on_the_third(*args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(trainer.tagging, "report_rows", interrupted_on_the_third)
    out = tmp_path / "tags.jsonl"
    assert _tag(inbox, out, bundle_dir) == 130
    assert 0 < len(out.with_name("tags.summary.jsonl").read_text().splitlines()) < 6
    monkeypatch.setattr(trainer.tagging, "report_rows", real)
    assert _tag(inbox, out, bundle_dir, "--resume") == 1
    _same_rows(full, out)
