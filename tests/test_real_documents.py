"""Real documents from other places: a dev part that is only ever scored, a training part in grouped CV."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from trainer.config import load_config
from trainer.labels import check_real, load_real
from trainer.reader import paragraphs_from_text
from trainer.taxonomy import load_taxonomy
from trainer.training import fold_keys, train

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT / "labels" / "real" / "paragraphs.jsonl"

DOCS = {
    "rd001": (
        "train",
        "某县司法局2023年工作总结\n全年办理法律援助案件312件，提供法律咨询4000余人次。\n深化人民调解，调处矛盾纠纷1200件。",
    ),
    "rd002": ("train", "某市法治政府建设情况报告\n推进综合行政执法改革，开展执法案卷评查。\n全年审核规范性文件46件。"),
    "rd003": ("train", "某镇法治建设报告\n开展民法典宣传进村入户活动20场。\n存在的不足：基层法治力量薄弱。"),
    "rd004": ("dev", "某区营商环境工作\n推行涉企检查扫码入企，优化法治化营商环境。\n办理行政复议案件58件。"),
    "rd005": ("dev", "某州公共法律服务\n建成村居法律顾问全覆盖，公证服务便民。\n社区矫正对象管理规范。"),
}
THEMES = {
    "rd001": [[], ["legal_aid", "public_legal_service"], ["mediation"]],
    "rd002": [[], ["enforcement"], ["legality_review"]],
    "rd003": [[], ["legal_publicity"], ["shortcomings"]],
    "rd004": [[], ["enforcement", "business_env"], ["reconsideration_litigation"]],
    "rd005": [[], ["public_legal_service"], ["community_correction"]],
}


def write_real_set(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    docs, rows = [], []
    for doc, (split, lines) in DOCS.items():
        text = "\n\n".join(lines.splitlines())  # blank lines: each line is its own paragraph
        docs.append({"doc": doc, "split": split, "url": f"http://example.gov.cn/{doc}.html", "text": text})
        paragraphs = paragraphs_from_text(text, doc)
        assert len(paragraphs) == len(THEMES[doc])
        for p, themes in zip(paragraphs, THEMES[doc]):
            rows.append({"id": p.id, "report": doc, "index": p.index, "hash": p.hash, "text": p.text,
                         "themes": themes, "split": split})  # fmt: skip
    (folder / "documents.jsonl").write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs))
    (folder / "paragraphs.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return folder / "paragraphs.jsonl"


def test_dev_part_is_scored_never_trained_and_real_training_documents_join_the_cv(tmp_path, store, monkeypatch):
    real = write_real_set(tmp_path / "real")
    seen: list[str] = []
    from trainer.models.keywords import KeywordModel

    original_fit = KeywordModel.fit

    def recording_fit(self, texts, y, *args, **kwargs):
        seen.extend(texts)
        return original_fit(self, texts, y, *args, **kwargs)

    monkeypatch.setattr(KeywordModel, "fit", recording_fit)
    config = load_config(ROOT / "configs" / "keywords.yaml", [f"data.real={real}", f"tracking.tracking_uri={store}",
                                                               "evaluation.real_folds=2"])  # fmt: skip
    result = train(config, echo=lambda s: None)
    dev_texts = {t for doc, (split, text) in DOCS.items() if split == "dev" for t in text.splitlines()}
    train_texts = {t for doc, (split, text) in DOCS.items() if split == "train" for t in text.splitlines()}
    assert not dev_texts & set(seen)
    assert train_texts <= set(seen), train_texts - set(seen)
    metrics = MlflowClient(store).get_run(result.run_id).data.metrics
    for key in ("cv_micro_f1", "real_cv_micro_f1", "real_cv_macro_f1", "dev_micro_f1", "dev_macro_f1",
                "dev_theme_f1/enforcement", "dev_theme_recall/community_correction"):  # fmt: skip
        assert key in metrics, key
    assert metrics["dev_theme_support/public_legal_service"] == 1


def test_fold_keys_keep_each_real_document_in_one_fold(tmp_path):
    taxonomy = load_taxonomy(ROOT / "labels" / "taxonomy.yaml")
    real_train, real_dev = load_real(write_real_set(tmp_path / "real"), taxonomy)
    from trainer.labels import load_gold

    gold = load_gold(ROOT / "labels" / "gold.jsonl", taxonomy)
    keys = fold_keys(gold, real_train, 2)
    assert keys[: len(gold)] == gold.groups
    by_doc: dict[str, set[str]] = {}
    for doc, key in zip(real_train.groups, keys[len(gold) :]):
        by_doc.setdefault(doc, set()).add(key)
    assert all(len(k) == 1 for k in by_doc.values())
    assert not set(real_dev.groups) & set(real_train.groups)


def test_check_real_names_a_row_whose_text_drifted_from_the_reader(tmp_path):
    taxonomy = load_taxonomy(ROOT / "labels" / "taxonomy.yaml")
    real = write_real_set(tmp_path / "real")
    assert check_real(real, taxonomy) == []
    rows = real.read_text().splitlines()
    row = json.loads(rows[1])
    row["text"] = row["text"] + "。"
    rows[1] = json.dumps(row, ensure_ascii=False)
    real.write_text("\n".join(rows) + "\n")
    errors = check_real(real, taxonomy)
    assert len(errors) == 1 and f"{real}:2" in errors[0] and "no longer matches the reader" in errors[0]


@pytest.mark.skipif(not REAL.exists(), reason="the real-document set is not in this checkout")
def test_shipped_real_set_passes_the_check_and_no_dev_document_is_in_training_data():
    taxonomy = load_taxonomy(ROOT / "labels" / "taxonomy.yaml")
    assert check_real(REAL, taxonomy) == []
    real_train, real_dev = load_real(REAL, taxonomy)
    assert len(real_dev) >= 300 and len(set(real_dev.groups)) >= 40
    documents = [json.loads(line) for line in (REAL.parent / "documents.jsonl").open()]
    dev_urls = {d["url"] for d in documents if d["split"] == "dev"}
    assert not dev_urls & {d["url"] for d in documents if d["split"] == "train"}
    training_texts = set(real_train.texts)
    for name in ("gold", "examples"):
        training_texts |= {json.loads(line)["text"] for line in (ROOT / "labels" / f"{name}.jsonl").open()}
    # a whole paragraph of 50+ characters seen in training would mean the same document (short clauses quoting a
    # national regulation, e.g. the items of 重大行政决策 rules, recur across documents of different places)
    long_dev = [t for t in real_dev.texts if len(t) >= 50]
    assert not set(long_dev) & training_texts


@pytest.mark.skipif(not REAL.exists(), reason="the real-document set is not in this checkout")
def test_every_shipped_document_sits_where_the_split_rule_puts_it_and_later_batches_stay_out_of_dev():
    import importlib.util

    spec = importlib.util.spec_from_file_location("real_docs", ROOT / "scripts" / "real_docs.py")
    real_docs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(real_docs)
    documents = [json.loads(line) for line in (REAL.parent / "documents.jsonl").open()]
    for d in documents:
        number = int(d["doc"].removeprefix("rd"))
        assert d["split"] == real_docs.split_for(d["url"], number), d["doc"]
        if number > real_docs.DEV_FIXED_AFTER:
            assert d["split"] == "train", d["doc"]


@pytest.mark.skipif(not REAL.exists(), reason="the real-document set is not in this checkout")
def test_dev_recheck_passes_cover_whole_dev_documents_with_valid_themes():
    """The blind re-annotation (experiments/dev_recheck.py) must read whole dev documents, never training ones."""
    taxonomy = load_taxonomy(ROOT / "labels" / "taxonomy.yaml")
    rows = [json.loads(line) for line in REAL.open()]
    split_of = {r["id"]: r["split"] for r in rows}
    for name in ("recheck_c.jsonl", "recheck_d.jsonl"):
        labels = [json.loads(line) for line in (REAL.parent / "passes" / name).open()]
        ids = [row["id"] for row in labels]
        assert len(ids) == len(set(ids)), f"{name}: a paragraph labelled twice"
        assert {split_of.get(pid) for pid in ids} == {"dev"}, f"{name}: labels a paragraph outside the dev part"
        documents = {pid.split(":")[0] for pid in ids}
        assert set(ids) == {r["id"] for r in rows if r["report"] in documents}, f"{name}: a document only in part"
        assert {t for row in labels for t in row["themes"]} <= set(taxonomy.ids), f"{name}: an unknown theme id"
