"""Template tags of the reviewer UI: stage and status badges, safe markdown, forge and download links."""

from __future__ import annotations

import json

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from models_app.choices import LedgerKind, RequestStatus, Stage, VersionStatus
from models_app.ui import presenters

register = template.Library()

# One shape per stage (12x12 viewBox), shared by the badges and the chart markers, so a stage reads
# the same without colour: star = Production, diamond = Staging, square = Archived, ring = none.
STAGE_SHAPES = {
    Stage.PRODUCTION: "M6 .4l1.7 3.6 3.9.5-2.9 2.7.8 3.9L6 9.2l-3.5 1.9.8-3.9L.4 4.5l3.9-.5z",
    Stage.STAGING: "M6 .6L11.4 6 6 11.4.6 6z",
    Stage.ARCHIVED: "M1.4 1.4h9.2v9.2H1.4z",
    Stage.NONE: "M6 1.6a4.4 4.4 0 1 0 0 8.8 4.4 4.4 0 1 0 0-8.8z",
}

_STATUS_ICONS = {
    VersionStatus.READY: "✓",
    VersionStatus.PENDING: "…",
    VersionStatus.FAILED: "✕",
    VersionStatus.PURGED: "∅",
    RequestStatus.APPROVED: "✓",
    RequestStatus.REJECTED: "✕",
    RequestStatus.CANCELLED: "⊘",
}


def _stage(value) -> Stage | None:
    try:
        return Stage(value)
    except ValueError:
        return None


@register.simple_tag
def stage_icon(stage) -> str:
    """The stage's shape as a small inline SVG (decorative: the text beside it names the stage)."""
    st = _stage(stage) or Stage.NONE
    return format_html(
        '<svg class="stage-icon stage-icon--{}" viewBox="0 0 12 12" width="12" height="12" '
        'aria-hidden="true" focusable="false"><path d="{}"/></svg>',
        st.value,
        STAGE_SHAPES[st],
    )


@register.simple_tag
def stage_badge(stage) -> str:
    """A stage as shape + text + colour: readable without colour and by screen readers."""
    st = _stage(stage)
    if st is None:
        return format_html('<span class="badge">{}</span>', stage or "—")
    label = presenters.stage_label(st)
    return format_html(
        '<span class="badge badge--stage badge--{}">{}<span>{}</span></span>', st.value, stage_icon(st), label
    )


@register.simple_tag
def request_target(req) -> str:
    """What a request asks for: a protected alias, the retirement of the Production version, or a stage."""
    if req.target_alias:
        return format_html('<span class="tag tag--alias">@{}</span>', req.target_alias)
    if req.target_stage == Stage.ARCHIVED:
        return format_html('{} <span class="muted">(retirement)</span>', stage_badge(req.target_stage))
    return stage_badge(req.target_stage)


@register.simple_tag
def status_badge(status) -> str:
    """A version or request status; 'ready' is the normal case and stays quiet."""
    labels = {**dict(VersionStatus.choices), **dict(RequestStatus.choices)}
    label = labels.get(status, status)
    icon = _STATUS_ICONS.get(status, "●")
    return format_html(
        '<span class="badge badge--status badge--status-{}"><span aria-hidden="true">{}</span> {}</span>',
        status,
        icon,
        label,
    )


@register.simple_tag
def hold_badge(hold) -> str:
    """A legal hold, with who placed it, when and why in its title; nothing without a hold."""
    if hold is None:
        return ""
    scope = "Model held" if hold.version_id is None else "Held"
    title = f"Legal hold since {hold.placed_at:%Y-%m-%d %H:%M} UTC by {hold.placed_by.get_username()}: {hold.reason}"
    return format_html(
        '<span class="badge badge--held" title="{}"><span aria-hidden="true">⚖</span> {}</span>', title, scope
    )


@register.filter
def markdown_card(text: str) -> str:
    """Markdown rendered and then sanitized with nh3 (scripts, handlers and javascript: links removed)."""
    return mark_safe(presenters.render_markdown(text))  # noqa: S308 - sanitized by nh3 just above


@register.simple_tag
def commit_link(repository: str, commit: str) -> str:
    """The commit as a link on a known forge (GitHub, GitLab, Bitbucket), else as plain code."""
    if not commit:
        return "—"
    url = presenters.commit_url(repository, commit)
    if url:
        return format_html(
            '<a href="{}" rel="noopener noreferrer"><code title="{}">{}</code></a>', url, commit, commit[:10]
        )
    return format_html('<code title="{}">{}</code>', commit, commit[:10])


@register.filter
def http_url(value: str) -> str:
    return presenters.http_url(value)


@register.simple_tag
def file_download_url(version, artifact) -> str:
    return presenters.file_download_url(version.registered_model.name, version.version, artifact.path)


@register.filter
def number(value) -> str:
    return presenters.format_number(value)


@register.filter
def metric(metrics: dict, name: str):
    """``metrics[name]`` formatted, or an em dash."""
    value = (metrics or {}).get(name)
    return "—" if value is None else presenters.format_number(value)


@register.filter
def kind_label(kind: str) -> str:
    try:
        return LedgerKind(kind).label
    except ValueError:
        return kind


@register.filter
def stage_label(stage: str) -> str:
    return presenters.stage_label(stage)


@register.filter
def decision_label(decision: str) -> str:
    return presenters.decision_label(decision)


@register.filter
def ago(moment) -> str:
    """``moment`` relative to now: "just now", "5 minutes ago", "2 days, 3 hours ago"."""
    return presenters.time_ago(moment, timezone.now())


@register.filter
def json_pretty(value) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


@register.filter
def display(value) -> str:
    return presenters.display_value(value)


@register.inclusion_tag("models_app/partials/_metric_chart.html")
def metric_chart(chart, model_name: str):
    return {"chart": chart, "model_name": model_name, "shapes": STAGE_SHAPES}


@register.filter
def shape_for(stage) -> str:
    return STAGE_SHAPES.get(_stage(stage) or Stage.NONE)


@register.filter
def changed_rows(rows) -> list:
    return [row for row in rows if row.differs]


@register.filter
def unchanged_rows(rows) -> list:
    return [row for row in rows if not row.differs]
