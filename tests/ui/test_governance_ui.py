"""Purges and legal holds in the reviewer UI: Governance's forms, refusals as messages or 403s, and the
purged and held marks on the version and model pages."""

from __future__ import annotations

import pytest
from django.urls import reverse

from models_app import services
from models_app.choices import LedgerKind, VersionStatus
from models_app.models import LedgerEntry, LegalHold, ModelVersion

pytestmark = pytest.mark.django_db


def version_url(n, action=""):
    base = reverse("models_app:modelversion-detail", args=["fraud-detector", n])
    return base + action


def model_url(action=""):
    return reverse("models_app:registeredmodel-detail", args=["fraud-detector"]) + action


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_governance_sees_the_forms_others_do_not(login, scenario, governance, reviewer, publisher):
    page = login(governance).get(version_url(1)).content.decode()
    assert 'id="governance-title"' in page
    assert version_url(1, "purge/") in page and version_url(1, "hold/") in page
    production = login(governance).get(version_url(2)).content.decode()
    assert version_url(2, "purge/") not in production
    assert "Files cannot be purged: v2 is in Production" in production
    for person in (reviewer, publisher):
        page = login(person).get(version_url(1)).content.decode()
        assert 'id="governance-title"' not in page and "purge/" not in page
    assert model_url("hold/") in login(governance).get(model_url()).content.decode()
    assert model_url("hold/") not in login(reviewer).get(model_url()).content.decode()


def test_governance_purges_from_the_version_page(
    login, scenario, governance, reviewer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = login(governance).post(version_url(1, "purge/"), {"reason": "Withdrawn."}, follow=True)
    assert any("Purged the files of v1" in m for m in messages_of(response))
    assert ModelVersion.objects.get(pk=scenario.archived.pk).status == VersionStatus.PURGED
    page = login(reviewer).get(version_url(1)).content.decode()
    assert "badge--status-purged" in page and "Files purged on" in page
    # The file list stays, without download links.
    assert '<code class="sha">' in page and "model.bin" in page
    assert "/files/" not in page


def test_refusals_come_back_as_messages_and_change_nothing(login, scenario, governance):
    rows = LedgerEntry.objects.count()
    response = login(governance).post(version_url(2, "purge/"), {"reason": "x"}, follow=True)
    assert any("v2 is in Production" in m for m in messages_of(response))
    response = login(governance).post(version_url(1, "purge/"), {"reason": ""}, follow=True)
    assert any("A reason is required." in m for m in messages_of(response))
    assert LedgerEntry.objects.count() == rows
    assert ModelVersion.objects.get(pk=scenario.production.pk).status == VersionStatus.READY


@pytest.mark.parametrize("action", ["purge/", "hold/", "hold/release/"])
def test_a_forged_post_by_a_reviewer_is_refused_with_403(login, scenario, reviewer, action):
    rows = LedgerEntry.objects.count()
    response = login(reviewer).post(version_url(1, action), {"reason": "x"})
    assert response.status_code == 403
    assert LedgerEntry.objects.count() == rows
    assert not LegalHold.objects.exists()
    assert login(reviewer).post(model_url("hold/"), {"reason": "x"}).status_code == 403
    assert not LegalHold.objects.exists()


def test_holds_are_marked_and_released_from_the_pages(login, scenario, governance, reviewer):
    gov = login(governance)
    response = gov.post(version_url(1, "hold/"), {"reason": "Litigation 2024-17."}, follow=True)
    assert any("v1 is under a legal hold" in m for m in messages_of(response))
    page = login(reviewer).get(version_url(1)).content.decode()
    assert "badge--held" in page and "Litigation 2024-17." in page
    assert "badge--held" in login(reviewer).get(model_url()).content.decode()
    page = gov.get(version_url(1)).content.decode()
    assert version_url(1, "hold/release/") in page and "Files cannot be purged" in page

    gov.post(version_url(1, "hold/release/"), {"reason": "Case closed."})
    assert not LegalHold.objects.active().exists()

    response = gov.post(model_url("hold/"), {"reason": "Regulator audit."}, follow=True)
    assert any("Every version of fraud-detector is under a legal hold" in m for m in messages_of(response))
    model_page = login(reviewer).get(model_url()).content.decode()
    assert 'id="model-hold-notice"' in model_page and "Regulator audit." in model_page
    version_page = login(reviewer).get(version_url(3)).content.decode()
    assert "Model held" in version_page
    gov.post(model_url("hold/release/"), {"reason": "Audit closed."})
    assert not LegalHold.objects.active().exists()
    kinds = LedgerEntry.objects.filter(kind__in=[LedgerKind.HOLD_PLACED, LedgerKind.HOLD_RELEASED]).count()
    assert kinds == 4


def test_a_hold_on_a_purged_version_is_refused_as_a_message(
    login, scenario, governance, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.version_purge(version=scenario.archived, actor=governance, reason="Withdrawn.")
    response = login(governance).post(version_url(1, "hold/"), {"reason": "x"}, follow=True)
    assert any("nothing left to hold" in m for m in messages_of(response))
    assert not LegalHold.objects.exists()
