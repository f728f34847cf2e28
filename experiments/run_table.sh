#!/usr/bin/env bash
# Re-measure every row of experiments/README.md into one store, then print the tables.
#   bash experiments/run_table.sh            (about 30 minutes on 2 CPU cores)
set -euo pipefail
cd "$(dirname "$0")/.."
export MLFLOW_TRACKING_URI="${MLFLOW_TRACKING_URI:-sqlite:///$PWD/mlruns/experiments.db}"
trainer=${TRAINER:-.venv/bin/trainer}
for c in configs/keywords.yaml experiments/configs/keywords_seed_lists.yaml experiments/configs/tfidf_gold_only.yaml \
         experiments/configs/embedding_lr_gold_only.yaml configs/bert_plain.yaml \
         configs/tfidf.yaml configs/embedding_lr.yaml experiments/configs/tfidf_keywords.yaml configs/default.yaml; do
  name=$(basename "$c" .yaml)
  /usr/bin/env time -f "$name wall %e s" "$trainer" train "$c" --set tracking.run_name="$name" 2>&1 | grep -E "wall|fold|error" || true
done
"${PYTHON:-.venv/bin/python}" experiments/results_table.py
"${PYTHON:-.venv/bin/python}" experiments/threshold_rules.py keywords tfidf embedding_lr tfidf_keywords default
# the default ran last, so models:/theme-tagger@candidate in this store is its model
"${PYTHON:-.venv/bin/python}" experiments/bench_inference.py models:/theme-tagger@candidate
