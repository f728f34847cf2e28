"""Build the real-document set (labels/real/) from collected public pages.

    python scripts/real_docs.py split COLLECTED.jsonl... --out labels/real/documents.jsonl
        one row per document (url, title, place, level, year, kind, text as collected), deduplicated by URL
        and by text, with stable ids and a fixed dev/train split by document;
    python scripts/real_docs.py paragraphs labels/real/documents.jsonl --out PARAGRAPHS.jsonl
        every paragraph the project's reader makes of each document (id, doc, index, hash, text), for the
        guard check and for annotation;
    python scripts/real_docs.py sheet PARAGRAPHS.jsonl --documents rd181-rd999 --out SHEET.txt [--reverse]
        an annotator's reading sheet: each document's header (title, place, kind), then its paragraphs with ids;
    python scripts/real_docs.py disagreements PARAGRAPHS.jsonl --pass-a A.jsonl --pass-b B.jsonl --out ADJ_IN.jsonl
        the paragraphs the passes label differently, with title and two paragraphs of context, the two label
        sets shuffled per item as X / Y (the adjudicator's input);
    python scripts/real_docs.py merge PARAGRAPHS.jsonl --pass-a A.jsonl --pass-b B.jsonl --adjudication ADJ.jsonl
        --out labels/real/paragraphs.jsonl
        gold rows: both passes where they agree, the adjudicated themes where they differ.

The split is decided by a hash of the document's URL, so adding documents never moves an old one across it.
The dev part is fixed since batch 2 (rd001-rd289): documents added after it all join the training part.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

DEV_SHARE = 0.4
DEV_FIXED_AFTER = 289  # documents numbered above this never enter the dev part (it stays the yardstick)


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _write(rows: list[dict], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"wrote {len(rows)} rows to {out}", file=sys.stderr)


def split_for(url: str, number: int) -> str:
    if number > DEV_FIXED_AFTER:
        return "train"
    bucket = int(hashlib.sha1(url.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "dev" if bucket < DEV_SHARE else "train"


def cmd_split(args) -> None:
    out = Path(args.out)
    docs = _rows(out) if out.exists() else []
    seen_urls = {d["url"] for d in docs}
    seen_texts = {hashlib.sha1(d["text"].encode()).hexdigest() for d in docs}
    for path in map(Path, args.collected):
        for row in _rows(path):
            digest = hashlib.sha1(row["text"].encode()).hexdigest()
            if row["url"] in seen_urls or digest in seen_texts:
                continue
            seen_urls.add(row["url"])
            seen_texts.add(digest)
            docs.append({"doc": f"rd{len(docs) + 1:03d}", "split": split_for(row["url"], len(docs) + 1), "collected_in": path.stem,
                         **{k: row.get(k) for k in ("url", "title", "place", "level", "year", "kind")},
                         "text": row["text"]})  # fmt: skip
    _write(docs, out)


def cmd_paragraphs(args) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from trainer.reader import paragraphs_from_text

    rows = []
    for doc in _rows(Path(args.documents)):
        for p in paragraphs_from_text(doc["text"], doc["doc"]):
            rows.append({"id": p.id, "report": doc["doc"], "index": p.index, "hash": p.hash, "text": p.text,
                         "url": doc["url"], "title": doc["title"], "split": doc["split"]})  # fmt: skip
    _write(rows, Path(args.out))


def _labels(path: str) -> dict[str, list[str]]:
    """Paragraph id -> sorted themes, from a pass or adjudication file."""
    return {r["id"]: sorted(r["themes"]) for r in _rows(Path(path))}


def _in_range(doc: str, spec: str | None) -> bool:
    if not spec:
        return True
    low, high = (int(part.strip().removeprefix("rd")) for part in spec.split("-"))
    return low <= int(doc.removeprefix("rd")) <= high


def cmd_sheet(args) -> None:
    docs = {d["doc"]: d for d in _rows(Path(args.documents_file))}
    by_doc: dict[str, list[dict]] = {}
    for row in _rows(Path(args.paragraphs)):
        if _in_range(row["report"], args.documents):
            by_doc.setdefault(row["report"], []).append(row)
    order = sorted(by_doc, reverse=args.reverse)
    lines = []
    for doc in order:
        d = docs[doc]
        lines.append(f"=== {doc} | {d.get('title') or ''} | {d.get('place') or ''} | {d.get('kind') or ''} ===")
        lines.extend(f"{r['id']}\t{r['text']}" for r in by_doc[doc])
        lines.append("")
    Path(args.out).write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {sum(map(len, by_doc.values()))} paragraphs of {len(order)} documents to {args.out}", file=sys.stderr)


def cmd_disagreements(args) -> None:
    import random

    rng = random.Random(args.seed)
    a, b = _labels(args.pass_a), _labels(args.pass_b)
    rows = _rows(Path(args.paragraphs))
    out = []
    for i, row in enumerate(rows):
        pid = row["id"]
        if pid in a and pid in b and a[pid] != b[pid]:
            before = [r["text"] for r in rows[max(0, i - 2) : i] if r["report"] == row["report"]]
            x, y = (a[pid], b[pid]) if rng.random() < 0.5 else (b[pid], a[pid])
            out.append({"id": pid, "title": row.get("title"), "context": before, "text": row["text"], "X": x, "Y": y})
    _write(out, Path(args.out))


def cmd_merge(args) -> None:
    a, b = _labels(args.pass_a), _labels(args.pass_b)
    adjudicated = _labels(args.adjudication) if args.adjudication else {}
    out, missing = [], []
    for row in _rows(Path(args.paragraphs)):
        pid = row["id"]
        if pid not in a or pid not in b:
            missing.append(pid)
            continue
        if a[pid] == b[pid]:
            themes = a[pid]
        elif pid in adjudicated:
            themes = adjudicated[pid]
        else:
            missing.append(pid)
            continue
        out.append({**{k: row[k] for k in ("id", "report", "index", "hash", "text")}, "themes": themes,
                    "split": row["split"]})  # fmt: skip
    if missing:
        sys.exit(f"error: {len(missing)} paragraphs lack a label or an adjudication, e.g. {missing[:5]}")
    _write(out, Path(args.out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("split")
    p.add_argument("collected", nargs="+")
    p.add_argument("--out", default="labels/real/documents.jsonl")
    p.set_defaults(func=cmd_split)
    p = sub.add_parser("paragraphs")
    p.add_argument("documents")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_paragraphs)
    p = sub.add_parser("sheet")
    p.add_argument("paragraphs")
    p.add_argument("--documents-file", default="labels/real/documents.jsonl")
    p.add_argument("--documents", help="a range of document ids, e.g. rd181-rd999")
    p.add_argument("--reverse", action="store_true", help="documents in reverse order (the second pass)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_sheet)
    two_passes = argparse.ArgumentParser(add_help=False)  # what disagreements and merge both read
    two_passes.add_argument("paragraphs")
    two_passes.add_argument("--pass-a", required=True)
    two_passes.add_argument("--pass-b", required=True)
    p = sub.add_parser("disagreements", parents=[two_passes])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_disagreements)
    p = sub.add_parser("merge", parents=[two_passes])
    p.add_argument("--adjudication")
    p.add_argument("--out", default="labels/real/paragraphs.jsonl")
    p.set_defaults(func=cmd_merge)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
