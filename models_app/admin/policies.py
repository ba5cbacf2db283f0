"""Governance edits promotion policies in the admin; every save goes through ``promotion_policy_set``."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from models_app import policies, rules, services
from models_app.admin.base import ServiceFormAdmin, _copy_saved
from models_app.exceptions import RegistryError
from models_app.inputs import AsciiIntegerField
from models_app.models import PromotionPolicy

_FIELD_HELP = {
    "metric_gates": 'All must pass to enter Production, e.g. [{"metric": "accuracy", "op": ">=", "value": 0.92}, '
    '{"metric": "latency_p95_ms", "op": "<=", "value": 40}]. Operators: >=, >, <=, <, ==.',
    "group_approvals": 'Least approvals from members of each group, e.g. {"Governance": 1}. The requester '
    "never counts.",
    "freeze_windows": 'Production changes other than rollbacks are refused inside each window, e.g. [{"start": '
    '"2025-12-20T00:00:00+00:00", "end": "2026-01-05T00:00:00+00:00", "reason": "year-end freeze"}].',
}


class PromotionPolicyForm(forms.ModelForm):
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

    def clean_metric_gates(self):
        return self._clean_with("metric_gates", policies.clean_metric_gates)

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
    raw_id_fields = ("registered_model",)
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
