"""The ledger admin's hash-chain verification: a page that walks the chain, linked from the ledger list."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse

from models_app.ledger import verify_chain

VERIFY_URL_NAME = "models_app_stagetransition_verify"


class LedgerVerificationMixin:
    """Mix into the ledger's ModelAdmin: adds ``verify/`` and a link to it on the changelist.

    The walk runs on demand (it reads every row), not on each changelist view.
    """

    def get_urls(self):
        verify = path("verify/", self.admin_site.admin_view(self.verify_chain_view), name=VERIFY_URL_NAME)
        # Before the defaults: their "<path:object_id>/" pattern would swallow it.
        return [verify, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "ledger_verify_url": reverse(f"{self.admin_site.name}:{VERIFY_URL_NAME}"),
        }
        return super().changelist_view(request, extra_context)

    def verify_chain_view(self, request):
        """Walk the chain now and show the verdict, naming the first broken row."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        report = verify_chain()
        if report.ok:
            messages.success(request, f"Ledger intact: {report.checked} row(s) verified.")
        else:
            messages.error(request, f"Ledger tampered ({report.kind}): {report.problem}")
        bad_row_url = None
        if report.first_bad_id is not None:
            bad_row_url = reverse(
                f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_change",
                args=[report.first_bad_id],
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Ledger hash-chain verification",
            "report": report,
            "bad_row_url": bad_row_url,
        }
        return TemplateResponse(request, "admin/models_app/stagetransition/verify.html", context)
