"""The theme taxonomy: loaded from `labels/taxonomy.yaml`, the one definition of the themes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from trainer.errors import UserError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TAXONOMY = PROJECT_ROOT / "labels" / "taxonomy.yaml"


@dataclass(frozen=True)
class Theme:
    id: str
    name: str
    name_en: str
    scope: str
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class Taxonomy:
    version: int
    themes: tuple[Theme, ...]

    @property
    def ids(self) -> list[str]:
        """Theme ids in taxonomy order: the column order of every label matrix."""
        return [t.id for t in self.themes]

    def __len__(self) -> int:
        return len(self.themes)

    def theme(self, theme_id: str) -> Theme:
        for t in self.themes:
            if t.id == theme_id:
                return t
        raise KeyError(theme_id)

    def keywords_found(self, theme_id: str, text: str) -> list[str]:
        """Taxonomy keywords of a theme that occur in text, longest first, without nested repeats."""
        found: list[str] = []
        for kw in sorted(self.theme(theme_id).keywords, key=len, reverse=True):
            if kw in text and not any(kw in longer for longer in found):
                found.append(kw)
        return found

    def to_dict(self) -> dict:
        return {
            "version": self.version,
            "themes": [
                {"id": t.id, "name": t.name, "name_en": t.name_en, "scope": t.scope, "keywords": list(t.keywords)}
                for t in self.themes
            ],
        }


def taxonomy_from_dict(data: dict, source: str = "taxonomy") -> Taxonomy:
    if not isinstance(data, dict) or not isinstance(data.get("themes"), list) or not data["themes"]:
        raise UserError(f"{source}: expected a mapping with a non-empty 'themes' list")
    themes, seen = [], set()
    for i, item in enumerate(data["themes"]):
        where = f"{source}: themes[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            raise UserError(f"{where}: every theme needs a string 'id'")
        if item["id"] in seen:
            raise UserError(f"{where}: duplicate theme id '{item['id']}'")
        seen.add(item["id"])
        keywords = item.get("keywords") or []
        if not isinstance(keywords, list) or not all(isinstance(k, str) and k for k in keywords):
            raise UserError(f"{where} ({item['id']}): 'keywords' must be a list of non-empty strings")
        themes.append(
            Theme(
                id=item["id"],
                name=str(item.get("name", item["id"])),
                name_en=str(item.get("name_en", item["id"])),
                scope=str(item.get("scope", "")),
                keywords=tuple(keywords),
            )
        )
    return Taxonomy(version=int(data.get("version", 1)), themes=tuple(themes))


def load_taxonomy(path: str | Path = DEFAULT_TAXONOMY) -> Taxonomy:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"{path}: cannot read the taxonomy ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    return taxonomy_from_dict(data, str(path))
