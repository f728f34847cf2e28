"""Does document context help the BERT probe? A scratch comparison on the real documents' dev part (issue 12).

The default's BERT member is a linear probe on a warm-started encoder's paragraph embeddings. Policy articles and
人大 supervision paragraphs often carry their theme only in the document's title or section heading, so this
compares probes that see, besides the paragraph:

- `none`: the paragraph alone (what the default does);
- `title`: the paragraph's embedding concatenated with the document title's;
- `title+heading`: ... and the nearest heading above the paragraph (`looks_like_heading`);
- `prefix`: one embedding of "title / heading / paragraph" as one text (context in the model's input).

Training rows: the seeds' gold, the real documents' training part and the examples (examples have no document:
their context block is zeros, and for `prefix` their text is unchanged). Scores: the dev part, cut at 0.5 and at
per-theme cut-offs tuned on the training part's 5-fold (document-grouped) out-of-fold scores.

    python experiments/context_probe.py --encoder ~/.cache/trainer/warm_start/<key>
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import GroupKFold

from trainer.labels import load_examples, load_gold, load_real
from trainer.models.encoder import embed, load_encoder
from trainer.models.linear import PerThemeLogistic
from trainer.paragraphs import looks_like_heading
from trainer.taxonomy import load_taxonomy
from trainer.textnorm import model_texts

ROOT = Path(__file__).resolve().parents[1]


def contexts(texts: list[str], groups: list[str], titles: dict[str, str]) -> tuple[list, list]:
    """(title, nearest heading above) per paragraph; rows are in document order within each group."""
    title_of, heading_of, last = [], [], {}
    for text, group in zip(texts, groups):
        title = titles.get(group) or ""
        title_of.append(title)
        heading_of.append(last.get(group, ""))
        if looks_like_heading(text) and text.strip() != title.strip():
            last[group] = text.strip()
    return title_of, heading_of


def tuned_cutoffs(scores: np.ndarray, y: np.ndarray) -> np.ndarray:
    grid = np.linspace(0.1, 0.9, 33)
    cut = np.full(y.shape[1], 0.5)
    for j in range(y.shape[1]):
        if y[:, j].sum() == 0:
            continue
        f1s = [f1_score(y[:, j], scores[:, j] >= g, zero_division=0) for g in grid]
        cut[j] = grid[int(np.argmax(f1s))]
    return cut


def figures(y: np.ndarray, pred: np.ndarray, theme_ids: list[str]) -> dict:
    present = y.sum(axis=0) > 0
    return {
        "micro": round(float(f1_score(y[:, present], pred[:, present], average="micro", zero_division=0)), 3),
        "macro": round(float(f1_score(y[:, present], pred[:, present], average="macro", zero_division=0)), 3),
        "per_theme": {
            t: round(float(f1_score(y[:, j], pred[:, j], zero_division=0)), 3)
            for j, t in enumerate(theme_ids)
            if present[j]
        },  # fmt: skip
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", type=Path, required=True, help="a warm-start cache entry or a bert member folder")
    parser.add_argument("--out", type=Path, default=ROOT / "experiments/results/context_probe.json")
    args = parser.parse_args()

    taxonomy = load_taxonomy(ROOT / "labels/taxonomy.yaml")
    gold = load_gold(ROOT / "labels/gold.jsonl", taxonomy)
    train, dev = load_real(ROOT / "labels/real/paragraphs.jsonl", taxonomy)
    examples = load_examples(ROOT / "labels/examples.jsonl", taxonomy)
    docs = [json.loads(line) for line in (ROOT / "labels/real/documents.jsonl").open(encoding="utf-8")]
    titles = {d["doc"]: d["title"] for d in docs if d.get("title")}
    for report, text in zip(gold.groups, gold.texts):  # a seed report's title: its first paragraph
        titles.setdefault(report, text)

    tokenizer, encoder = load_encoder(str(args.encoder / "encoder"))
    cache: dict[str, np.ndarray] = {}

    def vectors(texts: list[str]) -> np.ndarray:
        texts = model_texts(texts)
        missing = [t for t in dict.fromkeys(texts) if t and t not in cache]
        if missing:
            cache.update(zip(missing, embed(missing, tokenizer, encoder, 512)))
        zero = np.zeros(encoder.config.hidden_size, dtype=np.float32)
        return np.stack([cache[t] if t else zero for t in texts])

    labelled = {"gold": gold, "train": train, "dev": dev}
    ctx = {k: contexts(s.texts, s.groups, titles) for k, s in labelled.items()}
    n_ex = len(examples)

    def features(variant: str, part: str) -> np.ndarray:
        if part == "examples":
            base = vectors(examples.texts)
            blocks = {"none": 0, "title": 1, "title+heading": 2, "prefix": 0}[variant]
            return np.hstack([base] + [np.zeros_like(base)] * blocks)
        data, (title, heading) = labelled[part], ctx[part]
        if variant == "prefix":
            context = [" / ".join(x for x in (t, h) if x and x != p) for t, h, p in zip(title, heading, data.texts)]
            return vectors([f"{c} / {p}" if c else p for c, p in zip(context, data.texts)])
        blocks = [vectors(data.texts)]
        if variant in ("title", "title+heading"):
            blocks.append(vectors([t if t != p else "" for t, p in zip(title, data.texts)]))
        if variant == "title+heading":
            blocks.append(vectors(heading))
        return np.hstack(blocks)

    results = {}
    for variant in ("none", "title", "title+heading", "prefix"):
        X_fixed = np.vstack([features(variant, "gold"), features(variant, "examples")])
        y_fixed = np.vstack([gold.y, examples.y])
        X_train, y_train, X_dev = features(variant, "train"), train.y, features(variant, "dev")
        oof = np.zeros(y_train.shape)
        for fit_rows, test_rows in GroupKFold(5).split(X_train, groups=train.groups):
            probe = PerThemeLogistic(2.0, "balanced", 13).fit(
                np.vstack([X_fixed, X_train[fit_rows]]), np.vstack([y_fixed, y_train[fit_rows]])
            )
            oof[test_rows] = probe.predict_proba(X_train[test_rows])
        cut = tuned_cutoffs(oof, y_train)
        probe = PerThemeLogistic(2.0, "balanced", 13).fit(np.vstack([X_fixed, X_train]), np.vstack([y_fixed, y_train]))
        scores = probe.predict_proba(X_dev)
        results[variant] = {
            "dev_at_0.5": figures(dev.y, scores >= 0.5, taxonomy.ids),
            "dev_tuned": figures(dev.y, scores >= cut, taxonomy.ids),
            "real_cv_tuned": figures(y_train, oof >= cut, taxonomy.ids),
        }
        r = results[variant]
        print(
            f"{variant:14s} dev@0.5 {r['dev_at_0.5']['micro']:.3f}/{r['dev_at_0.5']['macro']:.3f}  "
            f"dev tuned {r['dev_tuned']['micro']:.3f}/{r['dev_tuned']['macro']:.3f}  "
            f"real CV {r['real_cv_tuned']['micro']:.3f}/{r['real_cv_tuned']['macro']:.3f}",
            flush=True,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"encoder": args.encoder.name, "examples": n_ex, "results": results},
                                   ensure_ascii=False, indent=1), encoding="utf-8")  # fmt: skip


if __name__ == "__main__":
    main()
