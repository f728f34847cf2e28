"""On-disk cache of warm-started encoders, so a second run, an ablation or a threshold study skips the warm start.

The warm start (fine-tuning on `data.extra_train` alone; about 10 minutes for the default config on 2 cores)
depends only on the examples, the base model, the member spec, the training settings it uses and its code. The key
hashes their content: file bytes (not paths) of the example files and the base model folder, the settings as
JSON, the taxonomy's theme ids (the label columns), and the bytes of the code that runs the warm start with the
torch and transformers versions. An entry is written into a temporary folder and renamed into place, so a killed
run never leaves half an entry behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from trainer.base_model import cache_root, resolve_base_model
from trainer.config import BertModel, TrainingConfig
from trainer.models import MODEL_FILE
from trainer.taxonomy import Taxonomy

log = logging.getLogger(__name__)
FORMAT = 1
PACKAGE_DIR = Path(__file__).resolve().parent
# the code a warm start runs: the training loop, encoder loading and batching, and how examples are read
CODE_FILES = ("models/bert.py", "models/encoder.py", "labels.py")
# spec fields used only after the warm start (per-fold training, the probe): an ablation of them reuses the entry
SPEC_FIELDS_AFTER_WARM_START = {"head", "probe_C", "warm_start_replay", "domain_epochs"}
# of those, the ones the domain stage does not read either
SPEC_FIELDS_AFTER_DOMAIN_STAGE = {"head", "probe_C"}
# training fields the warm start does not read (it runs warm_start_epochs; thread count does not change the result)
TRAINING_FIELDS_UNUSED = {"epochs", "threads"}
STALE_TEMP_SECONDS = 24 * 3600


def cache_dir() -> Path:
    return cache_root() / "warm_start"


def _add_file(digest, path: Path) -> None:
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)


def folder_digest(folder: Path) -> str:
    """sha256 over every file of a folder: relative names and bytes, in sorted order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        _add_file(digest, path)
        digest.update(b"\0")
    return digest.hexdigest()


def base_model_folder(name: str) -> Path | None:
    """The local folder behind a base model name (a folder, the pulled m3e-small, a hub model already cached)."""
    resolved = Path(resolve_base_model(name))
    if resolved.is_dir():
        return resolved
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, local_files_only=True))
    except Exception:  # not downloaded yet, or not a hub id: nothing local to hash
        return None


def code_digest() -> str:
    import torch
    import transformers

    digest = hashlib.sha256(
        f"format {FORMAT} torch {torch.__version__} transformers {transformers.__version__}".encode()
    )
    for name in CODE_FILES:
        _add_file(digest, PACKAGE_DIR / name)
    return digest.hexdigest()


def warm_start_key(spec: BertModel, training: TrainingConfig, precision: str, example_files: list[Path],
                   theme_ids: list[str]) -> str | None:  # fmt: skip
    """Content hash of everything the warm start depends on; None when the base model has no local files."""
    model_folder = base_model_folder(spec.base_model)
    if model_folder is None:
        return None
    settings = {
        "spec": spec.model_dump(mode="json", exclude={"base_model", *SPEC_FIELDS_AFTER_WARM_START}),
        "training": {**training.model_dump(mode="json", exclude=TRAINING_FIELDS_UNUSED), "precision": precision},
        "themes": list(theme_ids),
    }
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for path in example_files:
        digest.update(b"examples\0")
        _add_file(digest, Path(path))
    digest.update(f"base model {folder_digest(model_folder)} code {code_digest()}".encode())
    return digest.hexdigest()


def domain_key(warm_key: str | None, spec: BertModel, texts: list[str], y) -> str | None:
    """Key of the domain-tuned encoder: the warm start's key, the member spec (less the probe's fields) and the
    real rows it saw."""
    if warm_key is None:
        return None
    digest = hashlib.sha256(f"domain {warm_key}\0".encode())
    digest.update(
        json.dumps(spec.model_dump(mode="json", exclude=SPEC_FIELDS_AFTER_DOMAIN_STAGE), sort_keys=True).encode()
    )
    for text, row in zip(texts, y):
        digest.update(f"\0{text}\0{''.join(map(str, map(int, row)))}".encode())
    return digest.hexdigest()


def entry(key: str) -> Path:
    return cache_dir() / key


def load(key: str, taxonomy: Taxonomy):
    """The cached warm-started model, or None (no entry, or one that cannot be read: then it is trained again)."""
    from trainer.models.bert import BertThemeModel

    folder = entry(key)
    if not (folder / MODEL_FILE).exists():
        return None
    try:
        model = BertThemeModel.load(folder, taxonomy)
    except Exception as exc:  # a damaged entry must not stop a run: train again and replace it
        log.warning("warm-start cache entry %s unreadable (%s); training again", folder, exc)
        return None
    return model if model.n_themes == len(taxonomy) else None


def store(key: str, model) -> Path | None:
    """Save atomically (temp folder + rename); a failed write (disk full, read-only cache) only costs the cache."""
    root = cache_dir()
    try:
        root.mkdir(parents=True, exist_ok=True)
        _remove_stale_temps(root)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key[:16]}-", dir=root))
    except OSError as exc:
        log.warning("warm-start cache %s not writable (%s)", root, exc)
        return None
    try:
        model.save(tmp)
        os.rename(tmp, entry(key))  # atomic; fails if another run stored the same key first (then theirs is kept)
    except OSError as exc:
        if not (entry(key) / MODEL_FILE).exists():
            log.warning("could not write the warm-start cache entry %s (%s)", entry(key), exc)
            return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return entry(key)


def _remove_stale_temps(root: Path) -> None:
    """Temp folders of runs killed while writing (a live writer's folder is younger than a day)."""
    for path in root.glob(".*-*"):
        try:
            if path.is_dir() and time.time() - path.stat().st_mtime > STALE_TEMP_SECONDS:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass
