"""Lineage as a server-rendered SVG: a version and its chain of parent versions, each with its commit
and datasets, newest at the top and an arrow down to each parent.

Pure geometry: the view hands in the chain from ``selectors.version_lineage`` and the template draws
the boxes, texts and arrows computed here (no JavaScript, no external assets).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

from models_app.choices import Stage

WIDTH = 560
_MARGIN = 12
_LINE = 17
_PAD = 10
_GAP = 30
_MAX_DATASETS = 3
_MAX_CHARS = 68


def _clip(text: str, limit: int = _MAX_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class TextLine:
    text: str
    y: float
    strong: bool = False
    muted: bool = False


@dataclass
class Node:
    version: int
    stage: str
    compared: bool
    x: int
    y: int
    width: int
    height: int
    lines: list[TextLine] = field(default_factory=list)
    title: str = ""


@dataclass
class Arrow:
    x: int
    y1: int
    y2: int


@dataclass
class Lineage:
    """What the template draws; ``description`` is the text alternative of the whole picture."""

    nodes: list[Node]
    arrows: list[Arrow]
    width: int
    height: int
    description: str
    truncated: bool = False


def _dataset_text(item: dict) -> str:
    uri = str(item.get("uri", "")) or "dataset"
    version = str(item.get("version", "") or "")
    return f"{uri} @ {version}" if version else uri


def lineage(chain, *, compared: set[int] = frozenset(), limit_reached: bool = False) -> Lineage:
    """Boxes for ``chain`` (a version, then its parent, its parent's parent, ...); versions whose numbers
    are in ``compared`` are highlighted."""
    nodes, arrows, parts = [], [], []
    y = _MARGIN
    for v in chain:
        stage = Stage(v.stage)
        stage_label = "No stage" if stage == Stage.NONE else stage.label
        texts = [(f"v{v.version} · {stage_label}", True, False)]
        commit = (v.source_commit or "")[:10]
        branch = f" ({v.source_branch})" if v.source_branch else ""
        texts.append(
            (_clip(f"commit {commit}{branch}" if commit else "no commit recorded"), False, not commit)
        )
        datasets = [d for d in (v.datasets or []) if isinstance(d, dict)]
        for item in datasets[:_MAX_DATASETS]:
            texts.append((_clip("data " + _dataset_text(item)), False, False))
        if len(datasets) > _MAX_DATASETS:
            texts.append((f"+{len(datasets) - _MAX_DATASETS} more datasets", False, True))
        if not datasets:
            texts.append(("no datasets recorded", False, True))
        height = _PAD * 2 + _LINE * len(texts)
        node = Node(
            version=v.version,
            stage=stage.value,
            compared=v.version in compared,
            x=_MARGIN,
            y=y,
            width=WIDTH - 2 * _MARGIN,
            height=height,
            title=f"v{v.version}",
        )
        for i, (text, strong, muted) in enumerate(texts):
            node.lines.append(
                TextLine(text=text, y=y + _PAD + _LINE * (i + 1) - 4, strong=strong, muted=muted)
            )
        nodes.append(node)
        parts.append(
            f"v{v.version} ({stage_label}; "
            + (f"commit {commit}" if commit else "no commit")
            + "; "
            + (", ".join(_dataset_text(d) for d in datasets) or "no datasets")
            + ")"
        )
        y += height + _GAP
    for upper, lower in pairwise(nodes):
        arrows.append(Arrow(x=WIDTH // 2, y1=upper.y + upper.height, y2=lower.y))
    height = (y - _GAP + _MARGIN) if nodes else 0
    description = " is derived from ".join(parts) + "." if parts else "No versions."
    return Lineage(
        nodes=nodes,
        arrows=arrows,
        width=WIDTH,
        height=height,
        description=description,
        truncated=limit_reached,
    )
