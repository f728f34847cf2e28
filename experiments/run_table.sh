#!/usr/bin/env bash
# Re-measure every row of experiments/README.md into one store, then print the tables.
#   bash experiments/run_table.sh            (about 65 minutes on 2 CPU cores)
set -euo pipefail
cd "$(dirname "$0")/.."
export MLFLOW_TRACKING_URI="${MLFLOW_TRACKING_URI:-sqlite:///$PWD/mlruns/experiments.db}"
trainer=${TRAINER:-.venv/bin/trainer}
python=${PYTHON:-.venv/bin/python}
run() {  # run NAME CONFIG [--set ...]
  local name=$1 config=$2
  shift 2
  /usr/bin/env time -f "$name wall %e s" "$trainer" train "$config" --set tracking.run_name="$name" "$@" 2>&1 \
    | grep -E "wall|fold|error" || true
}
for c in configs/keywords.yaml experiments/configs/keywords_seed_lists.yaml experiments/configs/tfidf_gold_only.yaml \
         experiments/configs/embedding_lr_gold_only.yaml configs/bert_plain.yaml \
         configs/tfidf.yaml configs/embedding_lr.yaml experiments/configs/tfidf_keywords.yaml; do
  run "$(basename "$c" .yaml)" "$c"
done
# ablations of the default: the seed-informed keyword lists; and also the previous round's token limits
seed_lists=data.taxonomy=experiments/configs/taxonomy_seed_keywords.yaml
run previous_default configs/default.yaml --set "$seed_lists" \
  --set model.members.0.model.max_length=256 --set model.members.0.model.train_max_length=128
run default_seed_lists configs/default.yaml --set "$seed_lists"
# training noise: the default with another seed (not registered, so @candidate below stays the default's model)
run default_seed7 configs/default.yaml --set training.seed=7 --set tracking.register_model=false
run default configs/default.yaml
"$python" experiments/results_table.py
"$python" experiments/threshold_rules.py keywords tfidf embedding_lr tfidf_keywords previous_default \
  default_seed_lists default_seed7 default
"$python" experiments/paired_bootstrap.py default keywords keywords_seed_lists tfidf_gold_only \
  embedding_lr_gold_only bert_plain tfidf embedding_lr tfidf_keywords
# the default ran last, so models:/theme-tagger@candidate in this store is its model
"$python" experiments/bench_inference.py models:/theme-tagger@candidate
