"""Purges and legal holds in the admin: actions that ask for a reason and call the services, refusals as
messages, held and purged versions marked, and the read-only hold list."""

from __future__ import annotations

import pytest
from django.urls import reverse

from models_app import services
from models_app.choices import LedgerKind, Stage, VersionStatus
from models_app.models import LedgerEntry, LegalHold, ModelVersion
from tests.conftest import promote, register


def url(name, *args):
    return reverse(f"admin:models_app_{name}", args=args)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def lineup(registered_model, publisher, reviewer):
    """v1 Archived, v2 in Production."""
    v1 = register(registered_model, publisher)
    promote(v1, publisher, reviewer)
    v2 = register(registered_model, publisher)
    promote(v2, publisher, reviewer)
    v1.refresh_from_db()
    return v1, v2


def act(client, changelist, action, *objs, reason="", apply=True, capture=None):
    data = {"action": action, "_selected_action": [o.pk for o in objs], "reason": reason}
    if apply:
        data["apply"] = "1"
    if capture is None:
        return client.post(url(changelist), data, follow=True)
    with capture(execute=True):
        return client.post(url(changelist), data, follow=True)


def actions_offered(client, changelist) -> set[str]:
    response = client.get(url(changelist))
    form = response.context.get("action_form")
    return set(dict(form.fields["action"].choices)) if form else set()


def test_governance_purges_with_a_reason(client, governance, lineup, django_capture_on_commit_callbacks):
    client.force_login(governance)
    v1, v2 = lineup
    asked = act(client, "modelversion_changelist", "purge_selected", v1, apply=False)
    assert b"You are about to <strong>purge the files of these versions</strong>" in asked.content
    assert ModelVersion.objects.get(pk=v1.pk).status == VersionStatus.READY

    response = act(
        client,
        "modelversion_changelist",
        "purge_selected",
        v1,
        v2,
        reason="Withdrawn by the data owner.",
        capture=django_capture_on_commit_callbacks,
    )
    found = messages_of(response)
    assert any("fraud-detector v1: files purged" in m for m in found)
    assert any("fraud-detector v2" in m and "Production" in m for m in found)
    assert ModelVersion.objects.get(pk=v1.pk).status == VersionStatus.PURGED
    assert ModelVersion.objects.get(pk=v2.pk).status == VersionStatus.READY
    row = LedgerEntry.objects.get(kind=LedgerKind.PURGED)
    assert (row.version_id, row.actor, row.comment) == (v1.pk, governance, "Withdrawn by the data owner.")
    page = client.get(url("modelversion_change", v1.pk))
    assert page.status_code == 200 and b"Files purged on" in page.content


def test_a_reason_is_required(client, governance, lineup):
    client.force_login(governance)
    rows = LedgerEntry.objects.count()
    response = act(client, "modelversion_changelist", "purge_selected", lineup[0], reason="")
    assert b"This field is required" in response.content
    assert LedgerEntry.objects.count() == rows
    assert ModelVersion.objects.get(pk=lineup[0].pk).status == VersionStatus.READY


def test_holds_are_placed_shown_and_released(client, governance, lineup, registered_model):
    client.force_login(governance)
    v1 = lineup[0]
    act(client, "modelversion_changelist", "hold_selected", v1, reason="Litigation 2024-17.")
    hold = LegalHold.objects.active().get()
    assert (hold.version_id, hold.reason, hold.placed_by) == (v1.pk, "Litigation 2024-17.", governance)
    changelist = client.get(url("modelversion_changelist"))
    # "Held" is the list's only yes/no column: one version (v1) is held, the other not.
    assert changelist.content.count(b'alt="True"') == 1 and changelist.content.count(b'alt="False"') == 1
    detail = client.get(url("modelversion_change", v1.pk))
    assert b"Held on this version since" in detail.content and b"Litigation 2024-17." in detail.content

    refused = act(client, "modelversion_changelist", "purge_selected", v1, reason="x")
    assert any("legal hold" in m for m in messages_of(refused))
    assert ModelVersion.objects.get(pk=v1.pk).status == VersionStatus.READY

    again = act(client, "modelversion_changelist", "hold_selected", v1, reason="Another.")
    assert any("already under a legal hold" in m for m in messages_of(again))
    act(client, "modelversion_changelist", "release_hold_selected", v1, reason="Case closed.")
    assert not LegalHold.objects.active().exists()
    assert LegalHold.objects.get().release_reason == "Case closed."

    act(client, "registeredmodel_changelist", "hold_selected", registered_model, reason="Regulator audit.")
    model_hold = LegalHold.objects.active().get()
    assert model_hold.version_id is None
    detail = client.get(url("modelversion_change", lineup[1].pk))
    assert b"Held on the whole model since" in detail.content
    act(client, "registeredmodel_changelist", "release_hold_selected", registered_model, reason="Done.")
    assert not LegalHold.objects.active().exists()
    kinds = list(LedgerEntry.objects.filter(kind__startswith="hold").values_list("kind", flat=True))
    assert sorted(kinds) == ["hold_placed", "hold_placed", "hold_released", "hold_released"]


def test_the_hold_list_is_read_only(client, governance, lineup):
    services.version_hold(version=lineup[0], actor=governance, reason="Litigation 2024-17.")
    client.force_login(governance)
    listing = client.get(url("legalhold_changelist"))
    assert listing.status_code == 200 and b"Litigation 2024-17." in listing.content
    hold = LegalHold.objects.get()
    detail = client.get(url("legalhold_change", hold.pk))
    assert detail.status_code == 200
    assert b'name="reason"' not in detail.content  # shown, not editable
    assert client.get(url("legalhold_add")).status_code == 403
    assert client.post(url("legalhold_delete", hold.pk), {"post": "yes"}).status_code == 403
    assert LegalHold.objects.active().count() == 1


def test_staff_without_governance_get_no_purge_or_hold_actions(client, role_groups, lineup):
    from tests.conftest import make_user

    staff_reviewer = make_user("rex-staff", role_groups["Reviewers"], is_staff=True)
    client.force_login(staff_reviewer)
    assert not {"purge_selected", "hold_selected"} & actions_offered(client, "modelversion_changelist")
    rows = LedgerEntry.objects.count()
    act(client, "modelversion_changelist", "purge_selected", lineup[0], reason="x")
    assert LedgerEntry.objects.count() == rows
    assert ModelVersion.objects.get(pk=lineup[0].pk).stage == Stage.ARCHIVED
    assert ModelVersion.objects.get(pk=lineup[0].pk).status == VersionStatus.READY
