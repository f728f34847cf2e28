"""Does a short fine-tune of the warm-started encoder on the real training part help the probe? (issue 12)

Loads a warm-start cache entry (the examples stage), fine-tunes it `--epochs` more on the real documents'
training part (`--repeat` times each) with `warm_start_replay` of the examples replayed, as `bert.domain_epochs`
does in a run, and fits the default's per-theme probe (C = 2, balanced) on the seeds' gold, the real training part
(3x, as `data.real_weight`) and the examples, with the encoder before and after. Scores: the dev part at 0.5 and
at cut-offs tuned on the training part's 5-fold document-grouped out-of-fold scores (after domain tuning those
are optimistic: the encoder saw every training document; the dev part is the honest figure).

    python experiments/domain_probe.py --key <warm-start cache key> [--epochs 2] [--repeat 1] [--skip-base]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from context_probe import figures, tuned_cutoffs
from sklearn.model_selection import GroupKFold

from trainer import warm_cache
from trainer.config import load_config
from trainer.labels import load_examples, load_gold, load_real
from trainer.models.bert import BertThemeModel
from trainer.models.linear import PerThemeLogistic
from trainer.taxonomy import load_taxonomy

ROOT = Path(__file__).resolve().parents[1]


def probe_figures(encoder: BertThemeModel, gold, train, dev, examples, theme_ids: list[str]) -> dict:
    """The probe's dev figures (at 0.5 and tuned) and its out-of-fold figures on the training part."""
    Xg, Xe, Xt, Xd = (encoder.embeddings(part.model_texts) for part in (gold, examples, train, dev))
    X_fixed, y_fixed = np.vstack([Xg, Xe]), np.vstack([gold.y, examples.y])

    def probe(X, y):
        return PerThemeLogistic(2.0, "balanced", 13).fit(np.vstack([X_fixed, np.tile(X, (3, 1))]),
                                                         np.vstack([y_fixed, np.tile(y, (3, 1))]))  # fmt: skip

    oof = np.zeros(train.y.shape)
    for fit_rows, test_rows in GroupKFold(5).split(Xt, groups=train.groups):
        oof[test_rows] = probe(Xt[fit_rows], train.y[fit_rows]).predict_proba(Xt[test_rows])
    cut = tuned_cutoffs(oof, train.y)
    scores = probe(Xt, train.y).predict_proba(Xd)
    return {"dev_at_0.5": figures(dev.y, scores >= 0.5, theme_ids), "dev_tuned": figures(dev.y, scores >= cut, theme_ids),
            "real_cv_tuned": figures(train.y, oof >= cut, theme_ids)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--key", required=True, help="a warm-start cache entry (~/.cache/trainer/warm_start/KEY)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="times each real training paragraph is seen per epoch")
    parser.add_argument("--skip-base", action="store_true", help="do not score the encoder before domain tuning")
    parser.add_argument("--out", type=Path, default=ROOT / "experiments/results/domain_probe.json")
    args = parser.parse_args()

    config = load_config(ROOT / "configs/default.yaml")
    taxonomy = load_taxonomy(ROOT / "labels/taxonomy.yaml")
    gold = load_gold(ROOT / "labels/gold.jsonl", taxonomy)
    train, dev = load_real(ROOT / "labels/real/paragraphs.jsonl", taxonomy)
    examples = load_examples(ROOT / "labels/examples.jsonl", taxonomy)
    spec = config.model.members[0].model
    warm = warm_cache.load(args.key, taxonomy)
    if warm is None:
        raise SystemExit(f"no warm-start cache entry {warm_cache.entry(args.key)}")
    warm.warm_texts = frozenset(examples.model_texts)
    results = {}
    if not args.skip_base:
        results["warm start only"] = probe_figures(warm, gold, train, dev, examples, taxonomy.ids)
    rows = train.subset(np.tile(np.arange(len(train)), args.repeat)).concat(examples)
    started = time.time()
    tuned = BertThemeModel(spec, config.training, len(taxonomy), init_from=warm)
    tuned.fit(rows.model_texts, rows.y, epochs=args.epochs, label="domain tuning")
    name = f"+ {args.epochs} domain epochs, real x{args.repeat}"
    results[name] = probe_figures(tuned, gold, train, dev, examples, taxonomy.ids)
    results[name]["seconds"] = round(time.time() - started)
    for variant, r in results.items():
        print(
            f"{variant:36s} dev@0.5 {r['dev_at_0.5']['micro']:.3f}/{r['dev_at_0.5']['macro']:.3f}  "
            f"dev tuned {r['dev_tuned']['micro']:.3f}/{r['dev_tuned']['macro']:.3f}  "
            f"real CV {r['real_cv_tuned']['micro']:.3f}/{r['real_cv_tuned']['macro']:.3f}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"warm_start": args.key, "results": results}, ensure_ascii=False, indent=1),
                        encoding="utf-8")  # fmt: skip


if __name__ == "__main__":
    main()
