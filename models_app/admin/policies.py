"""Governance edits promotion policies in the admin; every save goes through ``promotion_policy_set``."""

from __future__ import annotations

import re

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from models_app import policies, rules, services
from models_app.admin.base import ServiceFormAdmin, _copy_saved
from models_app.exceptions import RegistryError
from models_app.inputs import AsciiIntegerField
from models_app.models import PromotionPolicy

_FIELD_HELP = {
    "group_approvals": 'Least approvals from members of each group, e.g. {"Governance": 1}. The requester '
    "never counts.",
    "freeze_windows": 'Production changes other than rollbacks are refused inside each window, e.g. [{"start": '
    '"2025-12-20T00:00:00+00:00", "end": "2026-01-05T00:00:00+00:00", "reason": "year-end freeze"}].',
}


# One gate per line: the metric's name, an operator and a number ("accuracy >= 0.92").
_GATE_LINE = re.compile(r"^(?P<metric>[^<>=]+?)\s*(?P<op>>=|<=|==|>|<)\s*(?P<value>\S+)$")
_GATE_INDEX = re.compile(r"^metric_gates\[(\d+)\]")


class MetricGatesField(forms.CharField):
    """The metric gates as lines of ``metric op value`` rather than JSON; each line is checked and a
    bad one is named by its number. The result is the list ``policies.clean_metric_gates`` returns."""

    widget = forms.Textarea

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "help_text",
            "One gate per line, all must pass to enter Production: a metric, an operator "
            f"({', '.join(policies.OPERATORS)}) and a number, e.g. <code>accuracy &gt;= 0.92</code> and "
            "<code>latency_p95_ms &lt;= 40</code>. They are checked again at every approval.",
        )
        super().__init__(**kwargs)
        self.widget.attrs.update(
            {"rows": 4, "cols": 60, "spellcheck": "false", "class": "vLargeTextField gates-editor"}
        )
        self.widget.attrs.setdefault("placeholder", "accuracy >= 0.92\nlatency_p95_ms <= 40")

    def prepare_value(self, value):
        if isinstance(value, list):
            # The stored numbers as they are (a gate's str() rounds to six digits).
            return "\n".join(
                f"{g['metric']} {g['op']} {g['value']!r}" if isinstance(g, dict) else str(g) for g in value
            )
        return value

    def to_python(self, value):
        gates = []
        for number, line in enumerate((value or "").splitlines(), start=1):
            text = line.strip()
            if not text:
                continue
            match = _GATE_LINE.match(text)
            if not match:
                raise ValidationError(
                    f"Line {number} ({text!r}): write a metric, an operator "
                    f"({', '.join(policies.OPERATORS)}) and a number, e.g. accuracy >= 0.92."
                )
            try:
                threshold = float(match["value"])
            except ValueError:
                raise ValidationError(
                    f"Line {number} ({text!r}): {match['value']!r} is not a number."
                ) from None
            if threshold.is_integer() and re.fullmatch(r"-?\d+", match["value"]):
                threshold = int(threshold)
            gates.append({"metric": match["metric"], "op": match["op"], "value": threshold, "line": number})
        return gates

    def clean(self, value):
        gates = self.to_python(value)
        lines = [gate.pop("line") for gate in gates]
        try:
            return policies.clean_metric_gates(gates)
        except RegistryError as exc:
            # The rule names the item (metric_gates[1].value): say which line that is.
            found = _GATE_INDEX.match(exc.field or "")
            where = f"Line {lines[int(found[1])]}" if found else "Metric gates"
            raise ValidationError(f"{where}: {exc}") from None


class PromotionPolicyForm(forms.ModelForm):
    metric_gates = MetricGatesField(label="Metric gates")
    required_approvals = AsciiIntegerField(
        min_value=1,
        max_value=10,
        help_text="Distinct reviewers who must approve, none of them the requester.",
    )
    comment = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="Why; recorded in the ledger."
    )

    class Meta:
        model = PromotionPolicy
        fields = ("registered_model", "metric_gates", "group_approvals", "freeze_windows")
        help_texts = _FIELD_HELP

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["required_approvals"].initial = self.instance.registered_model.required_approvals
        else:
            self.fields["required_approvals"].initial = 1

    def _clean_with(self, name, cleaner):
        try:
            return cleaner(self.cleaned_data.get(name))
        except RegistryError as exc:
            raise ValidationError(
                f"{exc.field}: {exc}" if exc.field and exc.field != name else str(exc)
            ) from None

    def clean_group_approvals(self):
        return self._clean_with("group_approvals", policies.clean_group_approvals)

    def clean_freeze_windows(self):
        return self._clean_with("freeze_windows", policies.clean_freeze_windows)


@admin.register(PromotionPolicy)
class PromotionPolicyAdmin(ServiceFormAdmin):
    """Promotion policies per model. Saving calls the service, which writes a ``policy_changed`` ledger row."""

    form = PromotionPolicyForm
    list_display = ("registered_model", "summary", "updated_by", "updated_at")
    list_select_related = ("registered_model", "updated_by")
    search_fields = ("registered_model__name",)
    # A searchable picker of model names (the models admin's search), not a raw id.
    autocomplete_fields = ("registered_model",)
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return ("registered_model", "updated_by", "updated_at") if obj else ("updated_by", "updated_at")

    @admin.display(description="Rules")
    def summary(self, obj):
        return "; ".join(policies.policy_from_record(obj.registered_model, obj).describe())

    def has_add_permission(self, request):
        return rules.may_govern(request.user) is None

    def has_change_permission(self, request, obj=None):
        return rules.may_govern(request.user) is None

    def has_delete_permission(self, request, obj=None):
        # A deleted policy would be an unrecorded change; empty its rules instead.
        return False

    def has_view_permission(self, request, obj=None):
        return rules.may_govern(request.user) is None or request.user.has_perm("models_app.view_ledgerentry")

    def save_model(self, request, obj, form, change):
        saved = self.run_service(
            services.promotion_policy_set,
            registered_model=form.cleaned_data.get("registered_model") or obj.registered_model,
            actor=request.user,
            metric_gates=form.cleaned_data["metric_gates"],
            group_approvals=form.cleaned_data["group_approvals"],
            freeze_windows=form.cleaned_data["freeze_windows"],
            required_approvals=form.cleaned_data["required_approvals"],
            comment=form.cleaned_data.get("comment", ""),
        )
        _copy_saved(saved, obj)

    def save_related(self, request, form, formsets, change):
        """No related objects: the service wrote everything."""
