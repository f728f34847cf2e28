"""Label Studio formats: the labelling config, tasks with pre-annotations, and reading annotation results.

One `Choices` control named `themes` over the paragraph (`Text` named `text`): multiple choice, one `Choice`
per taxonomy theme showing its Chinese name and id, with the id as the stored value (`alias`) and the scope as
the hover hint. An annotation with no choice means "no theme" (titles, greetings, boilerplate).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from trainer.taxonomy import Taxonomy

FROM_NAME = "themes"
TO_NAME = "text"
RESULT_TYPE = "choices"


def labeling_config(taxonomy: Taxonomy) -> str:
    """The Label Studio labelling config (XML) for a taxonomy."""
    view = ET.Element("View")
    context = ET.SubElement(view, "View", style="color: #666; font-size: 90%")
    ET.SubElement(context, "Text", name="title", value="$title")
    ET.SubElement(context, "Text", name="heading", value="$heading")
    ET.SubElement(view, "Text", name=TO_NAME, value="$text")
    ET.SubElement(view, "Header", value="主题 themes (多选; 无主题则不选直接提交 / none: submit without a choice)",
                  size="5")  # fmt: skip
    choices = ET.SubElement(view, "Choices", name=FROM_NAME, toName=TO_NAME, choice="multiple", showInLine="false")
    for theme in taxonomy.themes:
        ET.SubElement(choices, "Choice", value=f"{theme.name} {theme.id}", alias=theme.id, hint=theme.scope)
    ET.indent(view, space="  ")
    return ET.tostring(view, encoding="unicode") + "\n"


def choices_result(themes: list[str]) -> list[dict]:
    """An annotation/prediction `result` selecting these themes ([] = no theme)."""
    if not themes:
        return []
    return [{"from_name": FROM_NAME, "to_name": TO_NAME, "type": RESULT_TYPE, "value": {"choices": list(themes)}}]


def prediction(themes: list[str], score: float, model_version: str) -> dict:
    return {"model_version": model_version, "score": round(float(score), 4), "result": choices_result(themes)}


def result_themes(result: object) -> tuple[list[str], str | None]:
    """Theme ids selected in an annotation result, or an error text when the result is not this config's."""
    if not isinstance(result, list):
        return [], "its 'result' is not a list"
    themes: list[str] = []
    for item in result:
        if not isinstance(item, dict):
            return [], "a result item is not an object"
        if item.get("type") != RESULT_TYPE:
            continue  # other controls (a comment box, say) carry no theme
        if item.get("from_name") != FROM_NAME:
            return [], f"choices from '{item.get('from_name')}', not from the '{FROM_NAME}' control of trainer's config"
        chosen = (item.get("value") or {}).get("choices")
        if not isinstance(chosen, list) or not all(isinstance(c, str) for c in chosen):
            return [], "its choices are not a list of theme ids"
        themes.extend(c for c in chosen if c not in themes)
    return themes, None
