"""Pure presentation helpers for the reviewer UI: metric charts, version comparison, forge links.

Nothing here reads the database or writes anything; views hand in versions they got from selectors.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import markdown
import nh3
from django.utils.timesince import timesince

from models_app.choices import Decision, Stage, stage_label

# Metric names containing any of these are lower-is-better; everything else is higher-is-better.
LOWER_IS_BETTER_MARKERS = ("loss", "error", "latency", "mae", "mse", "rmse")

# Commit URL shapes of the forges we link to; any other host gets plain text.
_FORGE_COMMIT_PATHS = {
    "github.com": "{repo}/commit/{sha}",
    "gitlab.com": "{repo}/-/commit/{sha}",
    "bitbucket.org": "{repo}/commits/{sha}",
}

# Tags and attributes a model card may use; nh3 strips everything else (scripts, handlers, styles).
# No <img>: a remote image in a card would report every reviewer's visit to its host.
_CARD_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "kbd", "li", "ol", "p", "pre", "q", "s",
    "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
}  # fmt: skip
_CARD_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "td": {"align"},
    "th": {"align"},
}


def render_markdown(text: str) -> str:
    """Markdown to HTML, sanitized by nh3: the only way user-written markdown reaches a page."""
    # baselevel 3: the card's own headings sit below the page's h1 and the card's h2.
    html = markdown.markdown(
        text or "",
        extensions=["fenced_code", "tables", "sane_lists", "toc"],
        extension_configs={"toc": {"baselevel": 3}},
    )
    return nh3.clean(
        html,
        tags=_CARD_TAGS,
        attributes=_CARD_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def http_url(value: str) -> str:
    """``value`` if it is an absolute http(s) URL, else '' (never a javascript: or data: link)."""
    parts = urlsplit(value or "")
    return value if parts.scheme in ("http", "https") and parts.netloc else ""


def commit_url(repository: str, commit: str) -> str:
    """Link to a commit on GitHub, GitLab or Bitbucket (https only); '' for any other repository."""
    if not repository or not commit:
        return ""
    parts = urlsplit(repository.strip())
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or host not in _FORGE_COMMIT_PATHS or parts.username or parts.port:
        return ""
    path = parts.path.rstrip("/")
    path = path.removesuffix(".git")
    if path.count("/") < 2 or not all(path.split("/")[1:]):
        return ""
    repo = f"https://{host}{quote(path, safe='/-_.~')}"
    return _FORGE_COMMIT_PATHS[host].format(repo=repo, sha=quote(commit, safe=""))


def file_download_url(model_name: str, version_number: int, path: str) -> str:
    """The REST API's file endpoint for one artifact (session authentication works there)."""
    return (
        f"/api/v1/models/{quote(model_name, safe='')}/versions/{int(version_number)}"
        f"/files/{quote(path, safe='/')}"
    )


# A decision as it reads once made ("Rejected", not the choice label with a "d" appended).
_DECISIONS_MADE = {Decision.APPROVE: "Approved", Decision.REJECT: "Rejected"}


def decision_label(decision: str) -> str:
    """An approval's decision in the past tense: "Approved" or "Rejected"."""
    try:
        return _DECISIONS_MADE[Decision(decision)]
    except ValueError:
        return str(decision)


def time_ago(moment, now) -> str:
    """How long ago ``moment`` was, in the largest unit or two ("3 hours, 5 minutes ago"); under a
    minute (or a clock slightly ahead) reads "just now" rather than "0 minutes ago"."""
    if moment is None:
        return ""
    if (now - moment).total_seconds() < 60:
        return "just now"
    return f"{timesince(moment, now)} ago"


def lower_is_better(metric: str) -> bool:
    name = metric.lower()
    return any(marker in name for marker in LOWER_IS_BETTER_MARKERS)


def format_number(value: Any) -> str:
    """A metric value for people: integers as they are, floats to four significant digits."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if value.is_integer() and abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def display_value(value: Any) -> str:
    """One cell of a comparison: scalars as text, structures as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return json.dumps(value, sort_keys=True, separators=(", ", ": "))


def key_metric_names(versions, limit: int = 3) -> list[str]:
    """The metrics most versions report (ties by name): the columns of the versions table."""
    counts: dict[str, int] = {}
    for version in versions:
        for name in version.metrics or {}:
            counts[name] = counts.get(name, 0) + 1
    return [name for name, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


def model_list_metric(cleaned: dict) -> str:
    """The Production metric the models list filters or sorts by (the ordering's first), or ''."""
    ordering = (cleaned.get("ordering") or "").lstrip("-")
    if ordering.startswith("metric:"):
        return ordering[len("metric:") :]
    expr = (cleaned.get("metric") or "").strip()
    for op in (">=", "<=", ">", "<", "="):
        if op in expr:
            return expr.split(op, 1)[0]
    return ""


def deployment_mismatches(current_deployments, production_number: int | None) -> list:
    """The environments whose latest deployment report names another version than Production (every
    one, when the model has no Production version)."""
    return [d for d in current_deployments if d.version.version != production_number]


# -- metric charts ---------------------------------------------------------------------------------------

CHART_WIDTH, CHART_HEIGHT = 420, 200
_PAD_LEFT, _PAD_RIGHT, _PAD_TOP, _PAD_BOTTOM = 52, 14, 14, 30


@dataclass
class ChartPoint:
    version: int
    value: float
    stage: str
    stage_label: str
    x: float
    y: float
    label: str
    tick: bool = True


@dataclass
class MetricChart:
    """Geometry of one metric's line chart across versions; rendered as inline SVG by a template."""

    metric: str
    lower_is_better: bool
    points: list[ChartPoint] = field(default_factory=list)
    polyline: str = ""
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    plot_left: int = _PAD_LEFT
    plot_right: int = CHART_WIDTH - _PAD_RIGHT
    plot_top: int = _PAD_TOP
    plot_bottom: int = CHART_HEIGHT - _PAD_BOTTOM


def _nice_ticks(low: float, high: float, count: int = 4) -> tuple[float, float, list[float]]:
    """Round tick values (1, 2 or 5 times a power of ten) spanning ``low..high``."""
    raw_step = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw_step)
    start, end = math.floor(low / step) * step, math.ceil(high / step) * step
    ticks = [start + i * step for i in range(round((end - start) / step) + 1)]
    return start, end, [round(t, 12) for t in ticks]


def metric_charts(versions, *, limit: int = 8) -> list[MetricChart]:
    """One chart per metric (up to ``limit``), x = versions in number order, y = the metric value."""
    ordered = sorted(versions, key=lambda v: v.version)
    names = sorted({name for v in ordered for name in (v.metrics or {})})[:limit]
    charts = []
    for name in names:
        series = [
            (v, float(v.metrics[name]))
            for v in ordered
            if isinstance(v.metrics.get(name), int | float) and not isinstance(v.metrics.get(name), bool)
        ]
        series = [(v, value) for v, value in series if math.isfinite(value)]
        if not series:
            continue
        chart = MetricChart(metric=name, lower_is_better=lower_is_better(name))
        low, high = min(val for _, val in series), max(val for _, val in series)
        if low == high:
            spread = abs(low) * 0.1 or 1.0
            low, high = low - spread, high + spread
        low, high, ticks = _nice_ticks(low, high)
        plot_w = chart.plot_right - chart.plot_left
        plot_h = chart.plot_bottom - chart.plot_top
        step = plot_w / (len(series) - 1) if len(series) > 1 else 0
        for i, (version, value) in enumerate(series):
            x = chart.plot_left + (step * i if len(series) > 1 else plot_w / 2)
            y = chart.plot_bottom - (value - low) / (high - low) * plot_h
            stage = Stage(version.stage)
            chart.points.append(
                ChartPoint(
                    version=version.version,
                    value=value,
                    stage=stage.value,
                    stage_label=stage_label(stage),
                    x=round(x, 1),
                    y=round(y, 1),
                    label=format_number(value),
                )
            )
        every = math.ceil(len(chart.points) / 10)
        for i, point in enumerate(chart.points):
            point.tick = i % every == 0 or i == len(chart.points) - 1
        chart.polyline = " ".join(f"{p.x},{p.y}" for p in chart.points)
        for tick in ticks:
            y = chart.plot_bottom - (tick - low) / (high - low) * plot_h
            chart.y_ticks.append((round(y, 1), format_number(tick)))
        charts.append(chart)
    return charts


# -- comparison -----------------------------------------------------------------------------------------


@dataclass
class Cell:
    value: str
    delta: str = ""
    verdict: str = ""  # "better" | "worse" | "same" | "" (baseline or not comparable)


@dataclass
class Row:
    name: str
    cells: list[Cell]
    differs: bool
    note: str = ""


def _metric_rows(versions, baseline) -> list[Row]:
    names = sorted({name for v in versions for name in (v.metrics or {})})
    rows = []
    for name in names:
        base = (baseline.metrics or {}).get(name)
        cells = []
        for v in versions:
            value = (v.metrics or {}).get(name)
            cell = Cell(value=format_number(value) if value is not None else "—")
            numeric = isinstance(value, int | float) and isinstance(base, int | float)
            if v.pk != baseline.pk and numeric:
                diff = value - base
                cell.delta = ("+" if diff > 0 else "") + format_number(diff) if diff else "±0"
                if diff == 0:
                    cell.verdict = "same"
                else:
                    improved = diff < 0 if lower_is_better(name) else diff > 0
                    cell.verdict = "better" if improved else "worse"
            cells.append(cell)
        differs = len({c.value for c in cells}) > 1
        note = "lower is better" if lower_is_better(name) else "higher is better"
        rows.append(Row(name=name, cells=cells, differs=differs, note=note))
    return rows


def _mapping_rows(versions, getter) -> list[Row]:
    mappings = [getter(v) for v in versions]
    keys = sorted({k for m in mappings for k in m})
    rows = []
    for key in keys:
        values = [display_value(m.get(key)) if key in m else "—" for m in mappings]
        rows.append(Row(name=key, cells=[Cell(value=v) for v in values], differs=len(set(values)) > 1))
    return rows


def _environment(version) -> dict[str, Any]:
    env = dict(version.environment or {})
    flat = {k: v for k, v in env.items() if k not in ("libraries",)}
    for lib, ver in (env.get("libraries") or {}).items():
        flat[f"libraries.{lib}"] = ver
    return flat


def _datasets(version) -> dict[str, Any]:
    out = {}
    for item in version.datasets or []:
        desc = item.get("version", "")
        if item.get("digest"):
            desc = f"{desc} ({item['digest']})".strip()
        out[item.get("uri", "")] = desc or "present"
    return out


def _source(version) -> dict[str, Any]:
    return {
        "repository": version.source_repository,
        "branch": version.source_branch,
        "commit": version.source_commit,
        "dirty": "yes" if version.source_dirty else "no",
        "parent version": f"v{version.parent.version}" if version.parent_id else "",
    }


def _signature(version) -> dict[str, Any]:
    """``inputs: amount`` -> ``double``: one row per input and output column of the signature (MLflow
    stores each side as a JSON string, the registry's API as a list)."""
    out: dict[str, Any] = {}
    for side in ("inputs", "outputs", "params"):
        items = (version.signature or {}).get(side) or []
        if isinstance(items, str):
            try:
                items = json.loads(items)
            except ValueError:
                out[side] = items
                continue
        if not isinstance(items, list):
            out[side] = items
            continue
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                out[f"{side}: #{i + 1}"] = item
                continue
            name = item.get("name") or f"#{i + 1}"
            detail = {k: v for k, v in item.items() if k != "name"}
            kind = detail.pop("type", "")
            out[f"{side}: {name}"] = (
                " ".join([str(kind), display_value(detail) if detail else ""]).strip() or "present"
            )
    return out


@dataclass
class FileCell:
    size: int | None
    sha256: str
    change: str = ""  # against the baseline: "added" | "removed" | "changed size" | "changed SHA-256" | ...


@dataclass
class FileRow:
    path: str
    cells: list[FileCell]
    differs: bool


def _file_change(base, other) -> str:
    if base is None and other is None:
        return ""
    if base is None:
        return "added"
    if other is None:
        return "removed"
    changed = [
        what
        for what, a, b in (("size", base.size, other.size), ("SHA-256", base.sha256, other.sha256))
        if a != b
    ]
    return f"changed {' and '.join(changed)}" if changed else ""


def file_rows(versions, baseline) -> list[FileRow]:
    """Per file path across ``versions``: size and SHA-256 of each, and how each differs from
    ``baseline`` (added, removed, changed size or SHA-256)."""
    by_version = {v.pk: {f.path: f for f in v.files.all()} for v in versions}
    paths = sorted({p for files in by_version.values() for p in files})
    base_files = by_version[baseline.pk]
    rows = []
    for path in paths:
        cells = []
        for v in versions:
            f = by_version[v.pk].get(path)
            change = "" if v.pk == baseline.pk else _file_change(base_files.get(path), f)
            cells.append(FileCell(size=f.size if f else None, sha256=f.sha256 if f else "", change=change))
        differs = len({(c.size, c.sha256) for c in cells}) > 1
        rows.append(FileRow(path=path, cells=cells, differs=differs))
    return rows


@dataclass
class Comparison:
    versions: list
    baseline: Any
    metrics: list[Row]
    parameters: list[Row]
    datasets: list[Row]
    environment: list[Row]
    source: list[Row]
    files: list[FileRow] = field(default_factory=list)
    signature: list[Row] = field(default_factory=list)


def compare_versions(versions, baseline) -> Comparison:
    """Side-by-side rows for ``versions`` (baseline included), deltas measured against ``baseline``."""
    return Comparison(
        versions=list(versions),
        baseline=baseline,
        metrics=_metric_rows(versions, baseline),
        parameters=_mapping_rows(versions, lambda v: v.parameters or {}),
        datasets=_mapping_rows(versions, _datasets),
        environment=_mapping_rows(versions, _environment),
        source=_mapping_rows(versions, _source),
        files=file_rows(versions, baseline),
        signature=_mapping_rows(versions, _signature),
    )
