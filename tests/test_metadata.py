"""Report metadata: the seeds' places, years and kinds are found; what a report does not state stays empty."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ROOT
from trainer.metadata import describe_report
from trainer.reader import read_report

TRUTH = [json.loads(line) for line in (ROOT / "labels" / "report_metadata.jsonl").open(encoding="utf-8")]


@pytest.mark.parametrize("truth", TRUTH, ids=[t["report"] for t in TRUTH])
def test_seed_places_and_years_are_found(truth):
    report = read_report(ROOT / "seeds" / f"{truth['report']}.txt")
    found = describe_report(report.path, [p.text for p in report.paragraphs])
    # 大鹏新区 is a functional area: the gazetteer files its streets under the official division, 龙岗区.
    assert found["county"] == truth.get("county_official", truth["county"])
    assert (found["province"], found["city"], found["town"]) == (truth["province"], truth["city"], truth["town"])
    assert found["year"] == truth["year"]
    assert found["kind"] in (truth["kind"], "")  # a kind may stay unknown, never wrong


def test_seed_kinds_are_mostly_found():
    found = []
    for truth in TRUTH:
        report = read_report(ROOT / "seeds" / f"{truth['report']}.txt")
        found.append(describe_report(report.path, [p.text for p in report.paragraphs])["kind"] == truth["kind"])
    assert sum(found) >= 3


@pytest.mark.parametrize(
    ("name", "paragraphs", "expected"),
    [
        # nothing names a place, a year or a kind: everything empty
        ("inbox_17.txt", ["推进行政执法规范化建设。", "开展矛盾纠纷排查。"],
         {"province": "", "city": "", "county": "", "town": "", "year": None, "kind": ""}),
        # two places named once each: no place clearly leads, so none is given
        ("a.txt", ["学习宝安区和李沧区的经验。", "推进行政执法规范化建设。"], {"county": "", "city": ""}),
        # a dateline's year is the publication date; the year covered comes after it
        ("b.txt", ["本报2025年1月26日讯 2024年,海淀区法治建设成效显著。", "海淀区司法局推进普法。"],
         {"year": 2024, "kind": "news", "county": "海淀区", "city": "北京市"}),
        # the file name says the year and the kind when the text does not
        ("罗湖区2019年工作总结.txt", ["一、主要工作", "推进依法行政。"], {"year": 2019, "kind": "work_summary"}),
        ("c.txt", ["关于印发《某市2023年普法工作要点》的通知", "各区："], {"kind": "policy", "year": 2023}),
    ],
)  # fmt: skip
def test_metadata_rules_on_small_cases(name, paragraphs, expected):
    found = describe_report(Path(name), paragraphs)
    assert {k: found[k] for k in expected} == expected
