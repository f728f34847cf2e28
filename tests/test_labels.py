"""Taxonomy, gold labels and their checks, team-written examples, and the `trainer data` commands."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from trainer import cli
from trainer.errors import UserError
from trainer.labels import check_gold, load_examples, load_gold, read_jsonl
from trainer.reader import text_hash
from trainer.taxonomy import load_taxonomy, taxonomy_from_dict

ROOT = Path(__file__).resolve().parent.parent
GOLD = ROOT / "labels" / "gold.jsonl"
EXAMPLES = ROOT / "labels" / "examples.jsonl"
TAXONOMY = ROOT / "labels" / "taxonomy.yaml"
SEEDS = ROOT / "seeds"
PASS_A = ROOT / "labels" / "passes" / "pass_a.jsonl"
PASS_B = ROOT / "labels" / "passes" / "pass_b.jsonl"

# The fixed theme ids, in their fixed order (the column order of every label matrix).
THEME_IDS = [
    "enforcement",
    "mediation",
    "legal_aid",
    "business_env",
    "public_legal_service",
    "legal_industry",
    "legal_publicity",
    "reconsideration_litigation",
    "legality_review",
    "legal_counsel",
    "party_leadership",
    "legislation",
    "community_correction",
    "emergency",
    "oversight",
    "digital",
    "shortcomings",
]
SEED_PARAGRAPHS = {"000": 28, "001": 52, "002": 17, "003": 19, "004": 16}


@pytest.fixture(scope="module")
def taxonomy():
    return load_taxonomy(TAXONOMY)


def gold_lines() -> list[str]:
    return GOLD.read_text(encoding="utf-8").splitlines()


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def edit_row(lines: list[str], number: int, **changes) -> list[str]:
    """Copy of the gold lines with row `number` (1-based) changed; a value of None drops the field."""
    row = json.loads(lines[number - 1])
    for key, value in changes.items():
        if value is None:
            row.pop(key)
        else:
            row[key] = value
    out = list(lines)
    out[number - 1] = json.dumps(row, ensure_ascii=False)
    return out


# --- taxonomy --------------------------------------------------------------------------------


def test_taxonomy_has_the_17_fixed_theme_ids_in_order(taxonomy):
    assert taxonomy.ids == THEME_IDS
    assert len(taxonomy) == 17


def test_every_theme_has_names_and_keywords(taxonomy):
    for theme in taxonomy.themes:
        assert re.search(r"[\u4e00-\u9fff]", theme.name), theme.id
        assert theme.name != theme.id and theme.name_en and theme.name_en != theme.id, theme.id
        assert re.fullmatch(r"[A-Za-z][A-Za-z ,\-()/&']+", theme.name_en), theme.id
        assert theme.keywords and all(k.strip() == k and k for k in theme.keywords), theme.id
        assert len(set(theme.keywords)) == len(theme.keywords), f"{theme.id}: repeated keyword"
    assert len({t.name for t in taxonomy.themes}) == 17


def test_keywords_found_prefers_the_longest_match(taxonomy):
    found = taxonomy.keywords_found("enforcement", "推行行政执法监督码，开展综合执法培训")
    assert found[0] == "行政执法监督码"
    assert "行政执法监督" not in found  # nested in a longer hit
    assert "综合执法" in found


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"themes": []}, "non-empty 'themes' list"),
        ({"themes": [{"id": "a"}, {"id": "a"}]}, "duplicate theme id 'a'"),
        ({"themes": [{"id": "a", "keywords": ["x", ""]}]}, "'keywords' must be a list of non-empty strings"),
        ({"themes": [{"name": "无id"}]}, "every theme needs a string 'id'"),
    ],
)
def test_broken_taxonomy_is_a_user_error(data, message):
    with pytest.raises(UserError, match=re.escape(message)):
        taxonomy_from_dict(data, "tax.yaml")


# --- gold labels: the real file --------------------------------------------------------------


def test_gold_passes_check_gold(taxonomy):
    assert check_gold(GOLD, taxonomy, SEEDS) == []


def test_gold_covers_every_seed_paragraph_once():
    rows = [json.loads(line) for line in gold_lines()]
    per_report = Counter(row["report"][:3] for row in rows)
    assert dict(per_report) == SEED_PARAGRAPHS
    assert len({row["id"] for row in rows}) == len(rows) == 132
    assert all(row["hash"] == text_hash(row["text"]) for row in rows)


def test_load_gold_to_dataset(taxonomy):
    from datasets import Dataset

    data = load_gold(GOLD, taxonomy)
    assert len(data) == 132
    assert data.y.shape == (132, 17)
    ds = data.to_dataset()
    assert isinstance(ds, Dataset)
    assert {"id", "report", "text", "themes"} <= set(ds.column_names)
    assert ds.num_rows == 132
    assert len(set(ds["report"])) == 5
    assert sorted(Counter(r[:3] for r in ds["report"]).items()) == sorted(SEED_PARAGRAPHS.items())
    row = ds[1]
    assert row["id"] == "000_9f0686e880e1bc07:001" and row["themes"] == ["legal_industry"]


def test_label_matrix_columns_follow_taxonomy_order(taxonomy):
    data = load_gold(GOLD, taxonomy)
    y = data.y
    for i, themes in enumerate(data.themes):
        assert [THEME_IDS[j] for j in y[i].nonzero()[0]] == [t for t in THEME_IDS if t in themes]


# --- gold labels: corrupted copies -----------------------------------------------------------


def problems(tmp_path: Path, lines: list[str], taxonomy) -> tuple[Path, list[str]]:
    path = write_lines(tmp_path / "gold.jsonl", lines)
    return path, check_gold(path, taxonomy, SEEDS)


def test_unchanged_copy_is_clean(tmp_path, taxonomy):
    assert problems(tmp_path, gold_lines(), taxonomy)[1] == []


def test_unknown_theme_id(tmp_path, taxonomy):
    path, errors = problems(tmp_path, edit_row(gold_lines(), 5, themes=["mediation", "madiation"]), taxonomy)
    assert len(errors) == 1
    assert errors[0].startswith(f"{path}:5: unknown theme 'madiation' (known: enforcement, mediation,")


def test_theme_listed_twice(tmp_path, taxonomy):
    path, errors = problems(tmp_path, edit_row(gold_lines(), 5, themes=["mediation", "mediation"]), taxonomy)
    assert errors == [f"{path}:5: a theme is listed twice in ['mediation', 'mediation']"]


def test_duplicate_id(tmp_path, taxonomy):
    lines = gold_lines()
    first_id = json.loads(lines[2])["id"]
    path, errors = problems(tmp_path, lines + [lines[2]], taxonomy)
    assert errors == [f"{path}:{len(lines) + 1}: duplicate id '{first_id}' (first on line 3)"]


def test_text_that_no_longer_matches_the_reader(tmp_path, taxonomy):
    lines = gold_lines()
    row = json.loads(lines[9])
    edited = row["text"].replace("。", "，", 1) if "。" in row["text"] else row["text"] + "。"
    path, errors = problems(tmp_path, edit_row(lines, 10, text=edited, hash=text_hash(edited)), taxonomy)
    assert len(errors) == 1
    assert errors[0].startswith(f"{path}:10: text of '{row['id']}' no longer matches the reader")


def test_stale_hash(tmp_path, taxonomy):
    path, errors = problems(tmp_path, edit_row(gold_lines(), 7, hash="000000000000"), taxonomy)
    assert len(errors) == 1 and errors[0].startswith(f"{path}:7: text of ")


def test_seed_edited_after_labelling(tmp_path, taxonomy):
    """The reader's output changes (here: a seed is edited): the affected gold row is named."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for seed in SEEDS.glob("*.txt"):
        (seeds / seed.name).write_bytes(seed.read_bytes())
    target = next(seeds.glob("001_*.txt"))
    target.write_text(target.read_text(encoding="utf-8").replace("五、存在的不足及原因", "五、存在的不足"), "utf-8")
    gold = write_lines(tmp_path / "gold.jsonl", gold_lines())
    errors = check_gold(gold, taxonomy, seeds)
    assert len(errors) == 1
    line = next(i for i, text in enumerate(gold_lines(), 1) if '"001_3c7bd2856db37571:043"' in text)
    assert errors[0].startswith(f"{gold}:{line}: text of '001_3c7bd2856db37571:043' no longer matches the reader")


def test_missing_paragraph(tmp_path, taxonomy):
    lines = gold_lines()
    removed = json.loads(lines[40])["id"]
    path, errors = problems(tmp_path, lines[:40] + lines[41:], taxonomy)
    assert errors == [f"{path}: paragraph '{removed}' of the reader output has no gold row"]


def test_row_beyond_the_reader_output(tmp_path, taxonomy):
    lines = gold_lines()
    row = json.loads(lines[0])
    row.update(id=f"{row['report']}:099", index=99)
    path, errors = problems(tmp_path, lines + [json.dumps(row, ensure_ascii=False)], taxonomy)
    assert errors == [f"{path}:{len(lines) + 1}: the reader gives only 28 paragraphs for '{row['report']}'"]


def test_row_for_an_unknown_report(tmp_path, taxonomy):
    lines = gold_lines()
    row = dict(json.loads(lines[0]), id="999_nope:000", report="999_nope")
    path, errors = problems(tmp_path, lines + [json.dumps(row, ensure_ascii=False)], taxonomy)
    assert errors == [f"{path}:{len(lines) + 1}: report '999_nope' has no file in {SEEDS}"]


def test_id_that_does_not_match_report_and_index(tmp_path, taxonomy):
    path, errors = problems(tmp_path, edit_row(gold_lines(), 3, index=7), taxonomy)
    assert errors[0].startswith(f"{path}:3: id '000_9f0686e880e1bc07:002' does not match report")


@pytest.mark.parametrize("field", ["id", "report", "index", "hash", "text", "themes"])
def test_missing_field(tmp_path, taxonomy, field):
    path, errors = problems(tmp_path, edit_row(gold_lines(), 12, **{field: None}), taxonomy)
    assert f"{path}:12: missing field(s) {field}" in errors


@pytest.mark.parametrize(("field", "value"), [("text", None), ("text", 5), ("id", ["x"]), ("hash", 1)])
def test_wrongly_typed_field_is_reported_not_a_crash(tmp_path, taxonomy, field, value):
    lines = gold_lines()
    row = json.loads(lines[11])
    row[field] = value
    lines[11] = json.dumps(row, ensure_ascii=False)
    path, errors = problems(tmp_path, lines, taxonomy)
    assert f"{path}:12: field(s) {field} must be strings" in errors


def test_broken_json_line(tmp_path, taxonomy):
    lines = gold_lines()
    lines[20] = lines[20][:-5]
    path = write_lines(tmp_path / "gold.jsonl", lines)
    with pytest.raises(UserError) as exc_info:
        check_gold(path, taxonomy, SEEDS)
    assert re.fullmatch(rf"{re.escape(str(path))}:21: not valid JSON \(.+\)", str(exc_info.value))


def test_json_line_that_is_not_an_object(tmp_path, taxonomy):
    path = write_lines(tmp_path / "gold.jsonl", gold_lines()[:3] + ['["a", "b"]'])
    with pytest.raises(UserError, match=re.escape(f"{path}:4: expected a JSON object")):
        check_gold(path, taxonomy, SEEDS)


def test_blank_lines_and_bom_are_tolerated(tmp_path, taxonomy):
    lines = gold_lines()
    path = tmp_path / "gold.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "\n\n".join(lines).encode("utf-8") + b"\n\n")
    assert check_gold(path, taxonomy, SEEDS) == []


def test_gold_file_that_is_not_utf8(tmp_path, taxonomy):
    path = tmp_path / "gold.jsonl"
    path.write_bytes("\n".join(gold_lines()[:3]).encode("gb18030"))
    with pytest.raises(UserError, match=re.escape(f"{path}: not UTF-8 text")):
        check_gold(path, taxonomy, SEEDS)


def test_missing_gold_file(tmp_path, taxonomy):
    with pytest.raises(UserError, match=re.escape(f"{tmp_path / 'nope.jsonl'}: no such file")):
        check_gold(tmp_path / "nope.jsonl", taxonomy, SEEDS)


def test_load_gold_refuses_unknown_theme(tmp_path, taxonomy):
    path = write_lines(tmp_path / "gold.jsonl", edit_row(gold_lines(), 2, themes=["nope"]))
    with pytest.raises(UserError, match=re.escape(f"{path}:2: unknown theme 'nope'")):
        load_gold(path, taxonomy)


# --- `trainer data check` --------------------------------------------------------------------


def data_check(gold: Path, examples: Path = EXAMPLES, seeds: Path = SEEDS) -> list[str]:
    args = ["data", "check", "--gold", str(gold), "--seeds", str(seeds), "--examples", str(examples)]
    return [*args, "--taxonomy", str(TAXONOMY)]


def test_cli_check_clean(capsys):
    assert cli.main(data_check(GOLD)) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"ok: {GOLD} matches the reader output of {SEEDS}") and "17 themes" in out
    assert err == ""


def test_cli_check_with_default_paths(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert cli.main(["data", "check"]) == 0
    assert capsys.readouterr().out.startswith("ok: labels/gold.jsonl")


def test_cli_check_lists_every_problem(tmp_path, capsys):
    lines = edit_row(gold_lines(), 5, themes=["madiation"])
    lines = edit_row(lines, 9, hash="000000000000")
    gold = write_lines(tmp_path / "gold.jsonl", lines)
    assert cli.main(data_check(gold)) == 1
    out, err = capsys.readouterr()
    assert out == ""
    err_lines = err.splitlines()
    assert err_lines[0].startswith(f"error: {gold}:5: unknown theme 'madiation'")
    assert err_lines[1].startswith(f"error: {gold}:9: text of ")
    assert err_lines[2:] == ["2 problem(s) found"]


def test_cli_check_bad_examples(tmp_path, capsys):
    examples = write_lines(tmp_path / "examples.jsonl", [json.dumps({"id": "x", "text": "调解", "themes": ["bad"]})])
    assert cli.main(data_check(GOLD, examples=examples)) == 1
    err = capsys.readouterr().err
    assert f"error: {examples}:1: unknown theme 'bad'" in err


def test_cli_check_broken_json_is_one_line_not_a_traceback(tmp_path, capsys):
    lines = gold_lines()
    lines[6] = "{broken"
    gold = write_lines(tmp_path / "gold.jsonl", lines)
    assert cli.main(data_check(gold)) != 0
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    err_lines = [line for line in err.splitlines() if line]
    assert len(err_lines) == 1 and err_lines[0].startswith(f"error: {gold}:7: not valid JSON (")


def test_cli_check_missing_seed_folder(tmp_path, capsys):
    assert cli.main(data_check(GOLD, seeds=tmp_path / "no-seeds")) == 1
    err = capsys.readouterr().err
    assert f"has no file in {tmp_path / 'no-seeds'}" in err


# --- team-written examples -------------------------------------------------------------------


def test_examples_load_with_taxonomy_themes(taxonomy):
    examples = load_examples(EXAMPLES, taxonomy)
    assert len(examples) > 100
    assert all(text.strip() for text in examples.texts)
    assert all(set(themes) <= set(THEME_IDS) for themes in examples.themes)
    used = {t for themes in examples.themes for t in themes}
    assert used == set(THEME_IDS), f"themes without any example: {set(THEME_IDS) - used}"
    assert len(set(examples.ids)) == len(examples)
    assert len(set(examples.groups)) == len(examples)  # each example is its own CV group


def test_examples_never_copy_a_gold_paragraph():
    gold_texts = {json.loads(line)["text"] for line in gold_lines()}
    copied = [n for n, row in read_jsonl(EXAMPLES) if row["text"] in gold_texts]
    assert copied == [], f"examples.jsonl lines {copied} copy gold (test) paragraphs"


def test_examples_share_no_long_passage_with_gold():
    """Team-written text may share stock official phrases with the seeds, never a 30-character passage."""
    gold_texts = [json.loads(line)["text"] for line in gold_lines()]
    passages = {t[i : i + 30] for t in gold_texts for i in range(len(t) - 29)}
    leaking = [n for n, row in read_jsonl(EXAMPLES)
               if any(row["text"][i : i + 30] in passages for i in range(len(row["text"]) - 29))]  # fmt: skip
    assert leaking == [], f"examples.jsonl lines {leaking} share a 30-character passage with a gold paragraph"


def test_double_labelled_examples_carry_the_agreed_or_adjudicated_themes():
    examples = {row["id"]: set(row["themes"]) for _, row in read_jsonl(EXAMPLES)}
    passes = ROOT / "labels" / "passes"
    independent = {row["id"]: set(row["themes"]) for _, row in read_jsonl(passes / "examples_independent.jsonl")}
    decided = {row["id"]: set(row["themes"]) for _, row in read_jsonl(passes / "examples_adjudication.jsonl")}
    assert len(independent) > 2000 and set(independent) <= set(examples) and set(decided) <= set(independent)
    for example_id, second in independent.items():
        expected = decided.get(example_id, second)  # where the passes agreed, the writer's labels are the second's
        assert examples[example_id] == expected, example_id


def test_examples_need_text(tmp_path, taxonomy):
    path = write_lines(tmp_path / "examples.jsonl", [json.dumps({"text": "  ", "themes": []})])
    with pytest.raises(UserError, match=re.escape(f"{path}:1: every example needs a non-empty 'text'")):
        load_examples(path, taxonomy)


# --- `trainer data stats` and `trainer data agreement` ---------------------------------------


def test_cli_stats_prints_a_row_per_theme(capsys):
    args = ["data", "stats", "--gold", str(GOLD), "--taxonomy", str(TAXONOMY)]
    assert cli.main(args) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert rows[0] == ["theme", "000", "001", "002", "003", "004", "total"]
    assert rows[1] == ["paragraphs", "28", "52", "17", "19", "16", "132"]
    assert rows[2][:2] == ["no", "theme"]
    assert [r[0] for r in rows[3:]] == THEME_IDS
    gold = [json.loads(line) for line in gold_lines()]
    for row in rows[3:]:
        expected = [sum(1 for g in gold if g["report"][:3] == r and row[0] in g["themes"]) for r in rows[0][1:-1]]
        assert [int(c) for c in row[1:]] == [*expected, sum(expected)], row[0]
    assert int(rows[2][-1]) == sum(1 for g in gold if not g["themes"])


def micro_f1(first: Path, second: Path) -> float:
    a = {row["id"]: set(row["themes"]) for _, row in read_jsonl(first)}
    b = {row["id"]: set(row["themes"]) for _, row in read_jsonl(second)}
    tp = sum(len(a[i] & b[i]) for i in a)
    return 2 * tp / (sum(map(len, a.values())) + sum(map(len, b.values())))


def test_cli_agreement_prints_micro_f1(capsys):
    args = ["data", "agreement", str(PASS_A), str(PASS_B), "--taxonomy", str(TAXONOMY)]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    printed = float(re.search(r"^micro-F1: (\d\.\d{3})$", out, re.M).group(1))
    assert printed == pytest.approx(micro_f1(PASS_A, PASS_B), abs=5e-4)
    assert 0.5 < printed < 1.0
    assert "paragraphs: 132" in out
    for theme in THEME_IDS:
        assert re.search(rf"^{theme}\s+\d\.\d{{3}}\s+\d+$", out, re.M), theme


def test_cli_agreement_of_a_pass_with_itself_is_perfect(capsys):
    assert cli.main(["data", "agreement", str(PASS_A), str(PASS_A), "--taxonomy", str(TAXONOMY)]) == 0
    out = capsys.readouterr().out
    assert "micro-F1: 1.000" in out and "exact match: 1.000" in out


def test_cli_agreement_on_different_paragraphs(tmp_path, capsys):
    short = write_lines(tmp_path / "short.jsonl", PASS_B.read_text(encoding="utf-8").splitlines()[:-1])
    assert cli.main(["data", "agreement", str(PASS_A), str(short), "--taxonomy", str(TAXONOMY)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [f"error: {PASS_A} and {short} label different paragraphs (1 ids differ)"]
