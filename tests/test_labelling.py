"""The labelling loop without a server: export (pool, context, strategies, tasks), import, review."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from trainer.cli import main
from trainer.labelling import strategies
from trainer.labelling.pool import load_candidates, report_context, scores_matrix
from trainer.labelling.review import class_thresholds, rank_suspects, self_confidence, suspect_matrix
from trainer.labelling.studio import labeling_config
from trainer.reader import read_report
from trainer.taxonomy import load_taxonomy

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "001_3c7bd2856db37571.txt"  # 深圳市宝安区司法局2024年法治政府建设年度报告: numbered headings


@pytest.fixture(scope="module")
def taxonomy():
    return load_taxonomy(ROOT / "labels" / "taxonomy.yaml")


@pytest.fixture(scope="module")
def tag_output(taxonomy, tmp_path_factory) -> Path:
    """A real `trainer tag` output of one seed report, scored by the keyword model (no training needed)."""
    from trainer.cli import main
    from trainer.models.keywords import KeywordModel
    from trainer.pyfunc import save_bundle

    folder = save_bundle(tmp_path_factory.mktemp("model") / "keywords", KeywordModel(taxonomy), taxonomy,
                         np.full(len(taxonomy), 0.5))  # fmt: skip
    out = tmp_path_factory.mktemp("tags") / "tags.jsonl"
    assert main(["tag", str(SEED), "--model", str(folder), "--out", str(out), "--no-progress"]) == 0
    return out


@pytest.fixture(scope="module")
def ensemble_folder(taxonomy, tmp_path_factory) -> Path:
    """A saved tfidf + keywords ensemble bundle (what `--model FOLDER` loads), fitted on 600 examples."""
    from trainer.config import validate_config
    from trainer.labels import load_examples
    from trainer.models import build_model
    from trainer.pyfunc import save_bundle

    config = validate_config({"model": {"family": "ensemble", "members": [{"model": {"family": "tfidf"}},
                                                                          {"model": {"family": "keywords"}}]}}, "test")  # fmt: skip
    data = load_examples(ROOT / "labels" / "examples.jsonl", taxonomy).subset(range(600))
    model = build_model(config.model, taxonomy, config.training).fit(data.texts, data.y)
    return save_bundle(tmp_path_factory.mktemp("model") / "ensemble", model, taxonomy, np.full(len(taxonomy), 0.4))


def _export(tmp_path, *args) -> list[dict]:
    out = tmp_path / "tasks.json"
    assert main(["label", "export", *map(str, args), "--out", str(out)]) == 0
    return json.loads(out.read_text(encoding="utf-8"))


# --- the labelling config ----------------------------------------------------------------------------------------


def test_labeling_config_offers_every_theme_by_chinese_name_and_id_with_scope_hint(taxonomy):
    root = ET.fromstring(labeling_config(taxonomy))
    choices = root.find(".//Choices")
    assert choices.get("name") == "themes" and choices.get("toName") == "text" and choices.get("choice") == "multiple"
    offered = choices.findall("Choice")
    assert [c.get("alias") for c in offered] == taxonomy.ids
    legal_aid = offered[taxonomy.ids.index("legal_aid")]
    assert legal_aid.get("value") == "法律援助 legal_aid"
    assert legal_aid.get("hint") == taxonomy.theme("legal_aid").scope
    assert {t.get("value") for t in root.iter("Text")} == {"$title", "$heading", "$text"}


# --- pool and context --------------------------------------------------------------------------------------------


def test_context_is_report_title_and_nearest_heading_above():
    texts = ["某区2024年法治政府建设年度报告", "2024年，我区坚持……。", "一、坚持党的领导", "落实第一责任人职责。",
             "（一）健全依法行政制度", "审核规范性文件16件。"]  # fmt: skip
    title = "某区2024年法治政府建设年度报告"
    assert report_context(texts) == [(title, ""), (title, ""), (title, ""), (title, "一、坚持党的领导"),
                                     (title, "一、坚持党的领导"), (title, "（一）健全依法行政制度")]  # fmt: skip


def test_tag_output_paragraphs_keep_id_report_and_derived_context(tag_output):
    candidates = load_candidates([str(tag_output)])
    report = read_report(SEED)
    assert [c.id for c in candidates] == [p.id for p in report.paragraphs]
    assert all(c.report == report.report_id and c.scores is not None for c in candidates)
    assert {c.title for c in candidates} == {"深圳市宝安区司法局2024年法治政府建设年度报告"}
    after = candidates[[c.text for c in candidates].index("(二)健全政府机构职能的有关情况") + 1]
    assert after.heading == "(二)健全政府机构职能的有关情况"


def test_pool_rows_of_one_report_get_context_from_file_order(tmp_path):
    pool = tmp_path / "pool.jsonl"
    rows = [{"id": "a", "report": "r1", "text": "某县2023年法治政府建设情况报告"}, {"id": "b", "report": "r1", "text": "一、主要举措"},
            {"id": "c", "report": "r1", "text": "全年办理法律援助案件608件。"}, {"id": "d", "text": "无报告的段落。"}]  # fmt: skip
    pool.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    by_id = {c.id: c for c in load_candidates([str(pool)])}
    assert (by_id["c"].title, by_id["c"].heading) == ("某县2023年法治政府建设情况报告", "一、主要举措")
    assert (by_id["d"].title, by_id["d"].heading, by_id["d"].report) == ("", "", "")


def test_csv_tag_output_reads_like_jsonl(tag_output, taxonomy, tmp_path):
    from trainer.models.keywords import KeywordModel
    from trainer.pyfunc import save_bundle

    folder = save_bundle(tmp_path / "keywords", KeywordModel(taxonomy), taxonomy, np.full(len(taxonomy), 0.5))
    assert main(["tag", str(SEED), "--model", str(folder), "--out", str(tmp_path / "tags.csv"), "--no-progress"]) == 0
    from_csv, from_jsonl = load_candidates([str(tmp_path / "tags.csv")]), load_candidates([str(tag_output)])
    assert [(c.id, c.text, c.title, c.heading, c.tagged) for c in from_csv] == [
        (c.id, c.text, c.title, c.heading, c.tagged) for c in from_jsonl]  # fmt: skip
    ids = load_taxonomy(ROOT / "labels" / "taxonomy.yaml").ids
    assert scores_matrix(from_csv, ids) == pytest.approx(scores_matrix(from_jsonl, ids))


def test_duplicate_paragraph_ids_across_inputs_are_refused(tag_output, tmp_path, capsys):
    assert main(["label", "export", str(tag_output), str(tag_output), "--out", str(tmp_path / "t.json")]) == 2
    assert "occurs twice" in capsys.readouterr().err
    assert not (tmp_path / "t.json").exists()


# --- strategies ----------------------------------------------------------------------------------------------------


def _view(rng_seed=0, n=60, k=4) -> strategies.PoolView:
    rng = np.random.default_rng(rng_seed)
    return strategies.PoolView(size=n, scores=rng.random((n, k)), thresholds=np.full(k, 0.5),
                               member_scores=[rng.random((n, k)), rng.random((n, k))],
                               embeddings=rng.normal(size=(n, 8)), labelled_counts=np.array([50, 3, 40, 9]))  # fmt: skip


@pytest.mark.parametrize("strategy", strategies.STRATEGIES)
def test_every_strategy_is_deterministic_given_the_seed(strategy):
    ids = ["a", "b", "c", "d"]
    first = strategies.select(strategy, _view(), 12, seed=5, theme_ids=ids)
    assert first.rows == strategies.select(strategy, _view(), 12, seed=5, theme_ids=ids).rows
    assert len(first.rows) == len(set(first.rows)) == 12


def test_random_depends_on_the_seed_and_selection_never_exceeds_the_pool():
    ids = ["a", "b", "c", "d"]
    assert (
        strategies.select("random", _view(), 12, 1, ids).rows != strategies.select("random", _view(), 12, 2, ids).rows
    )
    assert len(strategies.select("uncertain", _view(n=5), 12, 1, ids).rows) == 5


def test_uncertain_picks_scores_nearest_their_theme_threshold_in_log_odds():
    scores = np.array([[0.5, 0.0], [0.02, 0.9], [0.31, 0.01], [0.97, 0.97]])
    view = strategies.PoolView(size=4, scores=scores, thresholds=np.array([0.3, 0.9]))
    chosen = strategies.select("uncertain", view, 2, 0, ["x", "y"])
    assert chosen.rows == [1, 2]  # row 1 sits on y's threshold, row 2 just above x's
    assert chosen.reasons[0] == "y near its threshold"


def test_disagree_picks_paragraphs_the_members_score_differently():
    a = np.array([[0.9, 0.1], [0.5, 0.5], [0.95, 0.05], [0.1, 0.1]])
    b = np.array([[0.9, 0.1], [0.5, 0.5], [0.05, 0.05], [0.1, 0.9]])
    view = strategies.PoolView(size=4, member_scores=[a, b])
    assert sorted(strategies.select("disagree", view, 2, 0, ["x", "y"]).rows) == [2, 3]


def test_diverse_covers_every_cluster_before_a_second_pick_from_any():
    rng = np.random.default_rng(0)
    centres = np.array([[10, 0, 0], [0, 10, 0], [0, 0, 10], [-10, 0, 0]])
    points = np.vstack([c + rng.normal(scale=0.1, size=(25, 3)) for c in centres])
    rows = strategies.select("diverse", strategies.PoolView(size=100, embeddings=points), 4, 3, ["x"]).rows
    assert sorted(r // 25 for r in rows) == [0, 1, 2, 3]


def test_diverse_starts_away_from_labelled_paragraphs():
    points = np.array([[0.0, 0], [0.1, 0], [5, 5], [5.1, 5]])
    view = strategies.PoolView(size=4, embeddings=points, labelled_embeddings=np.array([[0.0, 0.05]]))
    assert strategies.select("diverse", view, 1, 0, ["x"]).rows[0] in (2, 3)


def test_rare_fills_a_quota_for_each_weak_theme_rarest_first():
    scores = np.zeros((9, 3))
    scores[:3, 1] = [0.9, 0.8, 0.7]  # theme 1 is the rarest
    scores[3:6, 0] = [0.9, 0.8, 0.7]
    view = strategies.PoolView(size=9, scores=scores, thresholds=np.full(3, 0.5), labelled_counts=np.array([5, 1, 99]))
    chosen = strategies.select("rare", view, 4, 0, ["a", "b", "c"])
    # weak themes: ceil(3/3) = 1 -> only theme b; its quota is all 4 tasks, best scores first
    assert chosen.rows[:3] == [0, 1, 2] and "weak theme b" in chosen.reasons[0]
    view6 = strategies.PoolView(size=9, scores=np.hstack([scores, scores[:, ::-1]]), thresholds=np.full(6, 0.5),
                                labelled_counts=np.array([5, 1, 99, 0, 50, 60]))  # fmt: skip
    picked = strategies.select("rare", view6, 4, 0, list("abcdef"))
    assert picked.reasons[0].startswith("quota of weak theme d") and picked.reasons[1].startswith(
        "quota of weak theme b"
    )


# --- export end to end -------------------------------------------------------------------------------------------


def test_export_from_tag_output_writes_tasks_with_predictions_scores_and_context(tag_output, tmp_path, taxonomy):
    tasks = _export(tmp_path, tag_output, "--strategy", "uncertain", "--n", 6, "--labelled")
    assert len(tasks) == 6
    candidates = {c.id: c for c in load_candidates([str(tag_output)])}
    for rank, task in enumerate(tasks, start=1):
        data, (pred,) = task["data"], task["predictions"]
        c = candidates[data["paragraph_id"]]
        assert (data["text"], data["report"], data["index"], data["title"], data["heading"]) == (
            c.text, c.report, c.index, c.title, c.heading)  # fmt: skip
        assert data["rank"] == rank and data["strategy"] == "uncertain" and set(data["scores"]) == set(taxonomy.ids)
        assert pred["model_version"] == data["model_version"] == "tags:tags.jsonl" and 0 <= pred["score"] <= 1
        chosen = pred["result"][0]["value"]["choices"] if pred["result"] else []
        assert chosen == c.tagged  # the tag output's own themes are the pre-annotation
    margins = [t["data"]["selection_value"] for t in tasks]
    assert margins == sorted(margins)
    config = (tmp_path / "tasks.config.xml").read_text(encoding="utf-8")
    assert config == labeling_config(taxonomy)


def test_export_leaves_out_paragraphs_that_already_have_labels(tag_output, tmp_path):
    labelled = tmp_path / "done.jsonl"
    first = load_candidates([str(tag_output)])[:10]
    labelled.write_text("".join(json.dumps({"text": c.text, "themes": []}, ensure_ascii=False) + "\n" for c in first))
    tasks = _export(tmp_path, tag_output, "--strategy", "random", "--n", 500, "--labelled", labelled)
    assert len(tasks) == len(load_candidates([str(tag_output)])) - 10
    assert not {t["data"]["paragraph_id"] for t in tasks} & {c.id for c in first}


def test_export_scores_reports_with_an_ensemble_and_picks_by_member_disagreement(ensemble_folder, tmp_path):
    tasks = _export(tmp_path, SEED, "--model", ensemble_folder, "--strategy", "disagree", "--n", 5, "--labelled")
    assert len(tasks) == 5
    assert all(t["predictions"][0]["model_version"] == str(ensemble_folder) for t in tasks)
    values = [t["data"]["selection_value"] for t in tasks]
    assert values == sorted(values, reverse=True) and values[0] > 0


@pytest.mark.slow
def test_export_records_the_registered_version_behind_an_alias(tiny_run, tmp_path):
    config, result, uri = tiny_run
    pool = tmp_path / "pool.jsonl"
    pool.write_text("".join(json.dumps({"id": f"p{i}", "text": t}, ensure_ascii=False) + "\n"
                            for i, t in enumerate(["全年受理法律援助案件608宗。", "开展人民调解。", "二、下一步工作"])))  # fmt: skip
    name = config.tracking.registered_model
    tasks = _export(tmp_path, pool, "--model", f"models:/{name}@candidate", "--tracking-uri", uri, "--strategy",
                    "random", "--n", 3, "--labelled")  # fmt: skip
    assert {t["predictions"][0]["model_version"] for t in tasks} == {f"{name}/{result.model_version}"}


def test_disagree_without_an_ensemble_is_a_clear_error(tag_output, tmp_path, taxonomy, capsys):
    from trainer.models.keywords import KeywordModel
    from trainer.pyfunc import save_bundle

    single = save_bundle(tmp_path / "keywords", KeywordModel(taxonomy), taxonomy, np.full(len(taxonomy), 0.5))
    out = tmp_path / "t.json"
    assert main(["label", "export", str(tag_output), "--strategy", "disagree", "--model", str(single),
                 "--out", str(out), "--labelled"]) == 2  # fmt: skip
    assert "needs an ensemble model" in capsys.readouterr().err and not out.exists()


def test_export_diverse_uses_base_model_embeddings(tag_output, tmp_path, tiny_bert):
    tasks = _export(tmp_path, tag_output, "--strategy", "diverse", "--n", 4, "--embedder", tiny_bert, "--labelled")
    assert len({t["data"]["paragraph_id"] for t in tasks}) == 4


# --- import --------------------------------------------------------------------------------------------------------


def _annotation(aid, user, themes, cancelled=False, when="2026-01-02T03:04:05Z"):
    result = (
        [{"from_name": "themes", "to_name": "text", "type": "choices", "value": {"choices": themes}}] if themes else []
    )
    return {"id": aid, "completed_by": {"id": user, "email": f"u{user}@example.com"}, "result": result,
            "was_cancelled": cancelled, "created_at": when, "updated_at": when, "lead_time": 4.5}  # fmt: skip


def _task(tid, pid, annotations, text=None):
    data = {"text": text or f"段落{pid}。", "paragraph_id": pid, "report": "r1", "model_version": "m/1",
            "strategy": "uncertain"}  # fmt: skip
    return {"id": tid, "data": data, "annotations": annotations, "predictions": []}


def _write_export(path: Path, tasks: list[dict]) -> Path:
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    return path


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_import_writes_agreed_and_single_labels_with_provenance_and_queues_disagreements(tmp_path, capsys):
    export = _write_export(tmp_path / "export.json", [
        _task(1, "r1:001", [_annotation(10, 1, ["legal_aid", "mediation"]), _annotation(11, 2, ["mediation", "legal_aid"])]),
        _task(2, "r1:002", [_annotation(12, 1, ["enforcement"]), _annotation(13, 2, ["enforcement", "oversight"])]),
        _task(3, "r1:003", [_annotation(14, 1, []), _annotation(15, 2, ["digital"], cancelled=True)]),
    ])  # fmt: skip
    out = tmp_path / "labels.jsonl"
    assert main(["label", "import", str(export), "--out", str(out)]) == 0
    rows = _rows(out)
    assert [(r["id"], r["themes"]) for r in rows] == [("r1:001", ["mediation", "legal_aid"]), ("r1:003", [])]
    assert rows[0]["source"] == "label-studio" and rows[0]["report"] == "r1" and rows[0]["text"] == "段落r1:001。"
    prov = rows[0]["provenance"]
    assert prov["task_id"] == 1 and prov["decision"] == "agreed" and prov["model_version"] == "m/1"
    assert [(a["annotator"], a["time"]) for a in prov["annotations"]] == [("u1@example.com", "2026-01-02T03:04:05Z"),
                                                                          ("u2@example.com", "2026-01-02T03:04:05Z")]  # fmt: skip
    assert rows[1]["provenance"]["decision"] == "single"  # the skipped annotation is not a label
    (queued,) = _rows(tmp_path / "labels.adjudication.jsonl")
    assert queued["id"] == "r1:002" and queued["differ"] == ["oversight"] and queued["task_id"] == 2
    printed = capsys.readouterr().out
    assert "agreement between the first two annotators" in printed and "exact match: 0.500" in printed
    # rows load as training examples
    from trainer.labels import load_examples

    assert len(load_examples(out, load_taxonomy(ROOT / "labels" / "taxonomy.yaml"))) == 2


@pytest.mark.parametrize(("tasks", "message"), [
    ([_task(7, "p:1", [_annotation(1, 1, ["not_a_theme"])])], "task 7 (paragraph p:1): annotation 1 by u1@example.com: theme id(s) not_a_theme not in the taxonomy"),  # noqa: E501
    ([_task(8, "p:2", [])], "task 8 (paragraph p:2): no submitted annotation"),
    ([_task(9, "p:3", [_annotation(2, 1, [], cancelled=True)])], "task 9 (paragraph p:3): no submitted annotation"),
    ([_task(4, "p:4", [_annotation(3, 1, ["digital"])]), _task(4, "p:4", [_annotation(3, 1, ["digital"])])],
     "task 4 (paragraph p:4): the task occurs twice"),
    ([_task(5, "p:5", [_annotation(4, 1, ["digital"])]), _task(6, "p:5", [_annotation(5, 1, ["digital"])])],
     "task 6 (paragraph p:5): paragraph p:5 is also task 5"),
])  # fmt: skip
def test_import_rejects_bad_tasks_naming_them_and_writes_nothing(tmp_path, capsys, tasks, message):
    export = _write_export(tmp_path / "export.json", [_task(1, "ok:1", [_annotation(99, 1, ["legal_aid"])]), *tasks])
    assert main(["label", "import", str(export), "--out", str(tmp_path / "labels.jsonl")]) == 2
    err = capsys.readouterr().err
    assert message in err and "nothing was written" in err
    assert all(line.startswith("error: ") for line in err.strip().splitlines())
    assert not list(tmp_path.glob("labels*"))


def test_import_never_overwrites_labels_silently(tmp_path, capsys):
    export = _write_export(tmp_path / "export.json", [_task(1, "p:1", [_annotation(1, 1, ["legal_aid"])])])
    out = tmp_path / "labels.jsonl"
    out.write_text('{"id": "old", "text": "旧段落。", "themes": ["digital"]}\n', encoding="utf-8")
    assert main(["label", "import", str(export), "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err and len(_rows(out)) == 1
    assert main(["label", "import", str(export), "--out", str(out), "--append"]) == 0
    assert [r["id"] for r in _rows(out)] == ["old", "p:1"]
    assert main(["label", "import", str(export), "--out", str(out), "--append"]) == 0  # same labels again: kept once
    assert [r["id"] for r in _rows(out)] == ["old", "p:1"]
    changed = _write_export(tmp_path / "changed.json", [_task(1, "p:1", [_annotation(1, 1, ["mediation"])])])
    assert main(["label", "import", str(changed), "--out", str(out), "--append"]) == 2
    assert "already there with other labels" in capsys.readouterr().err
    assert [r["themes"] for r in _rows(out)] == [["digital"], ["legal_aid"]]
    assert main(["label", "import", str(changed), "--out", str(out), "--force"]) == 0
    assert [(r["id"], r["themes"]) for r in _rows(out)] == [("p:1", ["mediation"])]


# --- review ----------------------------------------------------------------------------------------------------------


def test_confident_learning_thresholds_and_suspects_by_hand():
    y = np.array([[1], [1], [1], [0], [0], [0]])
    scores = np.array([[0.9], [0.7], [0.1], [0.2], [0.0], [0.8]])
    t1, t0 = class_thresholds(y, scores)
    assert t1[0] == pytest.approx((0.9 + 0.7 + 0.1) / 3) and t0[0] == pytest.approx((0.8 + 1.0 + 0.2) / 3)
    # row 2: labelled 1 but p(0) = 0.9 >= t0 = 0.667; row 5: labelled 0 but p(1) = 0.8 >= t1 = 0.567
    assert suspect_matrix(y, scores, t1, t0)[:, 0].tolist() == [False, False, True, False, False, True]
    assert self_confidence(y, scores)[:, 0] == pytest.approx([0.9, 0.7, 0.1, 0.8, 1.0, 0.2])


def test_rank_suspects_orders_by_self_confidence_and_suggests_the_flip():
    from trainer.labelling.review import LabelPool

    y = np.array([[1, 0], [1, 0], [0, 1], [0, 1], [1, 0], [0, 1]])
    scores = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.2, 0.8], [0.05, 0.95], [0.7, 0.3]])
    pool = LabelPool([f"p{i}" for i in range(6)], [f"t{i}" for i in range(6)], y, ["g"] * 6, ["gold"] * 6, [""] * 6)
    rows = rank_suspects(pool, scores, ["a", "b"])
    assert [r["id"] for r in rows] == ["p4", "p5"]
    assert rows[0]["themes"] == ["a"] and rows[0]["suggested_themes"] == ["b"] and rows[0]["rank"] == 1
    assert rows[0]["self_confidence"] == pytest.approx(0.05)


@pytest.mark.slow
def test_review_finds_planted_label_errors_out_of_fold(tmp_path, capsys):
    rows = [json.loads(line) for line in (ROOT / "labels" / "examples.jsonl").open(encoding="utf-8")][:500]
    planted = {}
    for row in rows:  # clear single-theme legal aid / mediation paragraphs, labelled as the other theme
        if len(planted) < 6 and row["themes"] in (["legal_aid"], ["mediation"]) and len(row["text"]) > 60:
            row["themes"] = ["mediation"] if row["themes"] == ["legal_aid"] else ["legal_aid"]
            planted[row["id"]] = row["themes"]
    examples = tmp_path / "examples.jsonl"
    examples.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out, tasks = tmp_path / "review.jsonl", tmp_path / "review_tasks.json"
    assert main(["label", "review", "--gold", str(ROOT / "labels" / "gold.jsonl"), "--examples", str(examples),
                 "--out", str(out), "--tasks", str(tasks), "--n", "30"]) == 0  # fmt: skip
    ranked = _rows(out)
    top = [r["id"] for r in ranked[:30]]
    assert sum(pid in top for pid in planted) >= 5, (planted, top)
    suspects = {r["id"]: r for r in ranked}
    assert all(suspects[pid]["themes"] == planted[pid] for pid in planted if pid in suspects)
    exported = json.loads(tasks.read_text(encoding="utf-8"))
    assert len(exported) == 30 and [t["data"]["paragraph_id"] for t in exported] == top
    assert [p["model_version"] for p in exported[0]["predictions"]] == ["current-labels", "review-oof:tfidf+keywords"]
    assert "given [" in capsys.readouterr().out
