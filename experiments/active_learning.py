"""Simulated labelling loop: dev macro-F1 after N labels chosen by each strategy of `trainer label export`.

    python experiments/active_learning.py --real labels/real/paragraphs.jsonl [--config CONFIG]
    python experiments/active_learning.py --pool POOL.jsonl --dev DEV.jsonl [--config CONFIG]
        [--strategies random uncertain disagree diverse rare] [--seeds 1 2 3] [--sizes 50 100 200 400]

With `--real`, the pool is the real documents' training part and the dev set their dev part (labels/real/).
The pool's own labels play the annotator: each round the model is fitted on the labels chosen so far, the
strategy (trainer/labelling/strategies.py, exactly what `trainer label export --strategy` runs) picks the next
`--batch` paragraphs from the rest of the pool, and their labels are revealed. Every strategy starts from the
same `--start` random paragraphs for a seed. At each size the model is scored on the dev set: macro-F1 over the
dev set's themes at one cut-off (`--threshold`), so no figure depends on tuning thresholds on a few labels.

Writes `--out`.json (every curve, every seed), `--out`.png (mean and range over seeds) and a Markdown table to
stdout; logs one MLflow run per strategy (experiment `active-learning`) with `dev_macro_f1` per step = labels.
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from pathlib import Path

import numpy as np

from trainer import tracking
from trainer.config import load_config
from trainer.evaluation import compute_metrics
from trainer.labelling import strategies
from trainer.labels import LabelledSet, load_examples, load_real
from trainer.models import build_model
from trainer.taxonomy import load_taxonomy

DEFAULT_CONFIG = "experiments/configs/active_learning_tfidf.yaml"


def speed_up_jieba() -> None:
    """Tokenize each pool text once per process (the model refits every round on the same texts)."""
    import trainer.models.tfidf as tfidf

    tfidf.jieba_tokens = functools.lru_cache(maxsize=None)(tfidf.jieba_tokens)


def cached_pool_embeddings(texts: list[str], embedder: str, cache_dir: Path) -> np.ndarray:
    """Base-model embeddings of the pool, kept on disk (embedding thousands of paragraphs takes minutes on a CPU)."""
    import hashlib

    key = hashlib.sha1(json.dumps([embedder, texts], ensure_ascii=False).encode("utf-8")).hexdigest()[:16]
    path = cache_dir / f"embeddings-{key}.npy"
    if path.exists():
        return np.load(path)
    from trainer.labelling.export import embeddings

    started = time.time()
    vectors = embeddings(texts, embedder)
    print(f"embedded {len(texts)} pool paragraphs with {embedder} in {time.time() - started:.0f}s", flush=True)
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def fit_and_score(config, taxonomy, train: LabelledSet, texts: list[str]) -> tuple[np.ndarray, list[np.ndarray]]:
    model = build_model(config.model, taxonomy, config.training).fit(train.texts, train.y)
    if hasattr(model, "predict_members"):
        members = model.predict_members(texts)
        return model.combine(members), members
    return model.predict_proba(texts), []


def simulate(strategy: str, seed: int, pool: LabelledSet, dev: LabelledSet, config, taxonomy, args,
             embeddings: np.ndarray | None) -> dict[int, float]:  # fmt: skip
    """Dev macro-F1 at each size for one strategy and seed."""
    rng = np.random.default_rng(seed)
    labelled = [int(i) for i in rng.permutation(len(pool))[: args.start]]
    thresholds = np.full(len(taxonomy), args.threshold)
    curve: dict[int, float] = {}
    sizes = sorted(args.sizes)
    round_no = 0
    scores_pool = any(part in strategies.needs(strategy) for part in ("scores", "member_scores"))
    while True:
        rest = np.setdiff1d(np.arange(len(pool)), labelled)
        train = pool.subset(labelled)
        texts = dev.texts + ([pool.texts[i] for i in rest] if scores_pool else [])  # random/diverse: dev only
        scores, members = fit_and_score(config, taxonomy, train, texts)
        if len(labelled) in sizes:
            dev_scores = scores[: len(dev)]
            curve[len(labelled)] = compute_metrics(dev.y, (dev_scores >= thresholds).astype(int), dev_scores,
                                                   taxonomy.ids).macro_f1  # fmt: skip
        if len(labelled) >= sizes[-1]:
            return curve
        target = min([s for s in sizes if s > len(labelled)] + [len(labelled) + args.batch])
        view = strategies.PoolView(
            size=len(rest), scores=scores[len(dev) :] if scores_pool else None, thresholds=thresholds,
            member_scores=[m[len(dev) :] for m in members] if scores_pool and members else None,
            embeddings=embeddings[rest] if embeddings is not None else None,
            labelled_embeddings=embeddings[labelled] if embeddings is not None else None,
            labelled_counts=train.y.sum(axis=0),
        )  # fmt: skip
        chosen = strategies.select(strategy, view, target - len(labelled), seed * 1000 + round_no, taxonomy.ids)
        labelled += [int(rest[i]) for i in chosen.rows]
        round_no += 1


def plot(curves: dict[str, dict[int, list[float]]], sizes: list[int], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for strategy, by_size in curves.items():
        mean = [np.mean(by_size[s]) for s in sizes]
        ax.plot(sizes, mean, marker="o", label=strategy, linestyle="--" if strategy == "random" else "-")
        ax.fill_between(sizes, [min(by_size[s]) for s in sizes], [max(by_size[s]) for s in sizes], alpha=0.12)
    ax.set_xscale("log")
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.minorticks_off()
    ax.set_xlabel("labels chosen from the pool")
    ax.set_ylabel("dev macro-F1 (mean; band: min-max over seeds)")
    ax.set_title(title, fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def table(curves: dict[str, dict[int, list[float]]], sizes: list[int]) -> str:
    lines = ["| strategy | " + " | ".join(f"{s} labels" for s in sizes) + " |", "|---|" + "---|" * len(sizes)]
    base = curves.get("random")
    for strategy, by_size in curves.items():
        cells = []
        for s in sizes:
            mean = np.mean(by_size[s])
            cell = f"{mean:.3f} ± {np.std(by_size[s]):.3f}"
            if base is not None and strategy != "random":
                cell += f" ({100 * (mean - np.mean(base[s])):+.1f})"
            cells.append(cell)
        lines.append(f"| {strategy} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", help="real-paragraph JSONL (labels/real/paragraphs.jsonl): pool = its training "
                        "part, dev = its dev part")  # fmt: skip
    parser.add_argument("--pool", help="labelled JSONL whose labels stand in for annotators")
    parser.add_argument("--dev", help="labelled JSONL to score on (never chosen from)")
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="run config whose model and training to use")
    parser.add_argument("--taxonomy", default="labels/taxonomy.yaml")
    parser.add_argument("--strategies", nargs="+", default=["random", *[s for s in strategies.STRATEGIES
                                                                        if s != "random"]])  # fmt: skip
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--sizes", nargs="+", type=int, default=[50, 100, 200, 400])
    parser.add_argument("--start", type=int, default=25, help="random labels every strategy starts from")
    parser.add_argument("--batch", type=int, default=50, help="labels chosen per round (fewer to reach the next size)")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--embedder", default="moka-ai/m3e-small", help="base model for 'diverse' embeddings")
    parser.add_argument("--out", default="experiments/results/active_learning")
    parser.add_argument(
        "--cache", default=".cache/active_learning", help="pool embeddings and finished runs are kept here"
    )
    parser.add_argument("--note", default="", help="what the pool and dev set are (into the plot title and MLflow)")
    args = parser.parse_args()
    if bool(args.real) == bool(args.pool and args.dev):
        parser.error("give either --real, or both --pool and --dev")

    taxonomy = load_taxonomy(args.taxonomy)
    config = load_config(args.config)
    if args.real:
        pool, dev = load_real(Path(args.real), taxonomy)
        args.pool, args.dev = f"{args.real} (train part)", f"{args.real} (dev part)"
    else:
        pool, dev = load_examples(Path(args.pool), taxonomy), load_examples(Path(args.dev), taxonomy)
    dev_texts = set(dev.texts)
    keep = [i for i, t in enumerate(pool.texts) if t not in dev_texts]
    pool = pool.subset(keep)
    speed_up_jieba()
    embeddings = None
    if "diverse" in args.strategies:
        embeddings = cached_pool_embeddings(pool.texts, args.embedder, Path(args.cache))

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # one line per finished (strategy, seed), so an interrupted run goes on where it stopped
    settings = {k: getattr(args, k) for k in ("pool", "dev", "config", "sizes", "start", "batch", "threshold",
                                             "embedder")}  # fmt: skip
    partial = Path(args.cache) / f"{out.name}.partial.jsonl"
    partial.parent.mkdir(parents=True, exist_ok=True)
    done = {}
    if partial.exists():
        for line in partial.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row["settings"] == settings:
                done[(row["strategy"], row["seed"])] = {int(k): v for k, v in row["curve"].items()}
    curves: dict[str, dict[int, list[float]]] = {}
    for strategy in args.strategies:
        curves[strategy] = {s: [] for s in args.sizes}
        for seed in args.seeds:
            started = time.time()
            curve = done.get((strategy, seed))
            if curve is None:
                curve = simulate(strategy, seed, pool, dev, config, taxonomy, args, embeddings)
                with partial.open("a", encoding="utf-8") as f:
                    f.write(json.dumps({"settings": settings, "strategy": strategy, "seed": seed, "curve": curve,
                                        "seconds": round(time.time() - started)}) + "\n")  # fmt: skip
            for size, f1 in curve.items():
                curves[strategy][size].append(f1)
            print(f"{strategy:<10} seed {seed}: " + "  ".join(f"{s}: {curve[s]:.3f}" for s in sorted(curve))
                  + f"  ({time.time() - started:.0f}s)", flush=True)  # fmt: skip

    sizes = sorted(args.sizes)
    title = (f"pool {args.pool} ({len(pool)}),\ndev {args.dev} ({len(dev)}), {Path(args.config).name}, "
             f"seeds {args.seeds}" + (f"\n{args.note}" if args.note else ""))  # fmt: skip
    plot(curves, sizes, title, out.with_suffix(".png"))
    record = {"pool": args.pool, "dev": args.dev, "config": args.config, "seeds": args.seeds, "sizes": sizes,
              "start": args.start, "batch": args.batch, "threshold": args.threshold, "embedder": args.embedder,
              "note": args.note, "dev_macro_f1": {k: {str(s): v for s, v in c.items()} for k, c in curves.items()}}  # fmt: skip
    out.with_suffix(".json").write_text(json.dumps(record, indent=1), encoding="utf-8")
    print(table(curves, sizes))

    import mlflow

    uri = tracking.connect()
    tracking.use_experiment("active-learning", uri)
    for strategy, by_size in curves.items():
        with mlflow.start_run(run_name=f"al_{strategy}"):
            mlflow.log_params({k: str(v) for k, v in record.items() if k != "dev_macro_f1"} | {"strategy": strategy})
            for size in sizes:
                mlflow.log_metric("dev_macro_f1", float(np.mean(by_size[size])), step=size)
                mlflow.log_metric("dev_macro_f1_std", float(np.std(by_size[size])), step=size)
            mlflow.log_artifact(str(out.with_suffix(".png")), "plots")
            mlflow.log_artifact(str(out.with_suffix(".json")), "results")
    print(f"curves -> {out.with_suffix('.png')}, {out.with_suffix('.json')}; MLflow {uri}, experiment active-learning")


if __name__ == "__main__":
    main()
