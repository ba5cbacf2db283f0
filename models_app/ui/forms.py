"""Reviewer UI input forms. They check shape only; every rule is the services' business."""

from __future__ import annotations

from django import forms

from models_app.choices import Stage
from models_app.inputs import AsciiIntegerField, is_ascii_int

_COMMENT_MAX = 10_000


class CommentForm(forms.Form):
    """Approve, reject, cancel or request promotion: an optional comment."""

    comment = forms.CharField(
        required=False,
        max_length=_COMMENT_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Comment",
    )


class TransitionForm(forms.Form):
    """A direct stage move (to Staging, out of Staging, or to Archived)."""

    to = forms.ChoiceField(
        choices=[(s.value, s.label) for s in (Stage.STAGING, Stage.NONE, Stage.ARCHIVED)],
        label="Move to",
    )
    comment = forms.CharField(
        required=False, max_length=_COMMENT_MAX, widget=forms.Textarea(attrs={"rows": 2}), label="Comment"
    )


class RetireForm(forms.Form):
    """Request the Production version's retirement: a reason, then an explicit confirmation."""

    comment = forms.CharField(
        max_length=_COMMENT_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Reason",
        error_messages={"required": "A reason is required to retire the Production version."},
    )
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)


class RollbackForm(forms.Form):
    """Roll Production back to this version: the reason is mandatory."""

    reason = forms.CharField(
        max_length=_COMMENT_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Reason",
        error_messages={"required": "A reason is required to roll back."},
    )


class ReasonForm(forms.Form):
    """Purge, hold or release (Governance): the reason is mandatory and goes into the ledger."""

    reason = forms.CharField(
        max_length=_COMMENT_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Reason",
        error_messages={"required": "A reason is required."},
    )


class CompareForm(forms.Form):
    """``?versions=3,5`` (or repeated ``versions``) and an optional ``baseline``."""

    versions = forms.CharField(
        required=False,
        label="Versions",
        help_text="Version numbers separated by commas, e.g. 3,5",
        max_length=200,
    )
    baseline = AsciiIntegerField(required=False, min_value=1, label="Baseline")

    MAX_VERSIONS = 8

    def clean_versions(self) -> list[int]:
        raw = self.cleaned_data.get("versions") or ""
        numbers: list[int] = []
        for part in raw.replace(" ", ",").split(","):
            if not part:
                continue
            if not is_ascii_int(part) or int(part) < 1:
                raise forms.ValidationError(f"'{part}' is not a version number.")
            if int(part) not in numbers:
                numbers.append(int(part))
        if len(numbers) > self.MAX_VERSIONS:
            raise forms.ValidationError(f"Compare at most {self.MAX_VERSIONS} versions at once.")
        return numbers


class NotificationSettingsForm(forms.Form):
    """The settings page: notification e-mails on or off."""

    email_notifications = forms.BooleanField(
        required=False,
        label="E-mail me when a request awaits my decision and when my requests are decided",
    )
