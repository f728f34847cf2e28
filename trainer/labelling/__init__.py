"""The labelling loop: choose paragraphs for Label Studio, bring the labels back, review suspicious labels.

- `pool`: candidate paragraphs from tag outputs, report files or JSONL pools, with their report context;
- `strategies`: which candidates to label next (uncertain, disagree, diverse, rare, random);
- `studio`: the Label Studio formats (labelling config, tasks with predictions, annotation results);
- `export` / `importer`: `trainer label export` and `trainer label import`;
- `review`: `trainer label review`, confident-learning ranking of existing labels.
"""
