"""The governance admin: pages load, actions call the services, and nothing bypasses the rules."""

from __future__ import annotations

import csv
import hashlib
import io
import re

import pytest
from django.contrib import admin as django_admin
from django.contrib.auth.models import User
from django.test import RequestFactory
from django.urls import reverse

from models_app import services
from models_app.choices import LedgerKind, RequestStatus, Stage
from models_app.ledger import verify_chain
from models_app.models import (
    ApiToken,
    Approval,
    ArtifactFile,
    LedgerEntry,
    ModelVersion,
    RegisteredModel,
)
from tests.conftest import make_user, nothing_written, promote, register


def url(name, *args):
    return reverse(f"admin:models_app_{name}", args=args)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def history(registered_model, publisher, reviewer):
    """v1 in Production, v2 in Staging with a pending Production request, an alias, and a token."""
    v1 = register(registered_model, publisher, files={"model.bin": b"w1", "config.json": b"{}"})
    promote(v1, publisher, reviewer)
    v2 = register(registered_model, publisher, metadata={"metrics": {"auc": 0.93}, "tags": {"stage": "rc"}})
    services.version_transition(version=v2, to=Stage.STAGING, actor=publisher)
    req = services.transition_request_create(version=v2, to=Stage.PRODUCTION, actor=publisher)
    services.alias_set(registered_model=registered_model, alias="champion", version_number=1, actor=publisher)
    return {"v1": v1, "v2": v2, "request": req}


@pytest.fixture
def staff_reviewer(role_groups):
    """A reviewer who may use the admin (the decide actions need the decide permission)."""
    return make_user("rex-staffreviewer", role_groups["Reviewers"], role_groups["Governance"], is_staff=True)


# -- pages load ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["governance", "superuser"])
def test_it_loads_changelists_with_filters_and_search(client, request, history, registered_model, persona):
    client.force_login(request.getfixturevalue(persona))
    team_id = registered_model.team_id
    pages = [
        (url("registeredmodel_changelist"), {}),
        (url("registeredmodel_changelist"), {"q": "fraud"}),
        (url("registeredmodel_changelist"), {"team__id__exact": team_id, "has_stage": "production"}),
        (url("modelversion_changelist"), {}),
        (url("modelversion_changelist"), {"q": "fraud-detector"}),
        (url("modelversion_changelist"), {"stage": "staging", "tag": "stage=rc"}),
        (url("modelversion_changelist"), {"registered_model__team__id__exact": team_id}),
        (url("modelversion_changelist"), {"created_by__id__exact": history["v1"].created_by_id}),
        (url("modelversion_changelist"), {"created_at__gte": "2000-01-01 00:00:00+00:00"}),
        (url("transitionrequest_changelist"), {"status": "pending"}),
        (url("ledgerentry_changelist"), {"kind": "approved", "q": "rita"}),
        (url("approval_changelist"), {"decision": "approve"}),
        (url("modelalias_changelist"), {}),
        (url("artifactfile_changelist"), {"q": "model.bin"}),
        (url("apitoken_changelist"), {}),
    ]
    for page, params in pages:
        response = client.get(page, params)
        assert response.status_code == 200, (page, params)
        assert "?e=1" not in response.get("Location", ""), (page, params)


def test_it_filters_versions_by_tag_stage_and_search(client, governance, history):
    client.force_login(governance)
    listed = client.get(url("modelversion_changelist"), {"tag": "stage=rc"}).context["cl"].result_list
    assert [v.pk for v in listed] == [history["v2"].pk]
    listed = client.get(url("modelversion_changelist"), {"stage": "production"}).context["cl"].result_list
    assert [v.pk for v in listed] == [history["v1"].pk]
    listed = client.get(url("modelversion_changelist"), {"q": "nothing-like-this"}).context["cl"].result_list
    assert list(listed) == []


@pytest.mark.parametrize("persona", ["governance", "superuser"])
def test_it_shows_change_pages_read_only(client, request, history, persona):
    client.force_login(request.getfixturevalue(persona))
    v1 = history["v1"]
    response = client.get(url("modelversion_change", v1.pk))
    assert response.status_code == 200
    body = response.content.decode()
    for f in v1.files.all():
        assert f.sha256 in body
        assert f.path in body
        assert f.storage_key not in body  # the server's key stays internal
    assert "Approved stage change" in body  # the ledger inline
    for name, obj in [
        ("registeredmodel", v1.registered_model),
        ("transitionrequest", history["request"]),
        ("ledgerentry", LedgerEntry.objects.first()),
        ("approval", Approval.objects.first()),
        ("artifactfile", ArtifactFile.objects.first()),
    ]:
        assert client.get(url(f"{name}_change", obj.pk)).status_code == 200, name


# -- transition request actions -------------------------------------------------------------------------


def post_action(client, action, *requests, comment="", apply=True):
    data = {"action": action, "_selected_action": [r.pk for r in requests], "comment": comment}
    if apply:
        data["apply"] = "1"
    return client.post(url("transitionrequest_changelist"), data, follow=True)


def test_it_approves_through_the_service(client, staff_reviewer, history):
    client.force_login(staff_reviewer)
    req, v1, v2 = history["request"], history["v1"], history["v2"]
    before = LedgerEntry.objects.count()

    response = post_action(client, "approve_selected", req, comment="Checked in the admin.")

    assert response.status_code == 200
    assert any("is approved" in m for m in messages_of(response))
    req.refresh_from_db()
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert req.status == RequestStatus.APPROVED
    assert v2.stage == Stage.PRODUCTION
    assert v1.stage == Stage.ARCHIVED  # the automatic archive, in the same transaction
    new = list(LedgerEntry.objects.filter(id__gt=0).order_by("-id")[: LedgerEntry.objects.count() - before])
    kinds = {row.kind for row in new}
    assert kinds == {LedgerKind.APPROVAL, LedgerKind.AUTOMATIC, LedgerKind.APPROVED}
    approved = next(row for row in new if row.kind == LedgerKind.APPROVED)
    assert approved.actor_username == staff_reviewer.username
    assert approved.comment == "Checked in the admin."
    assert verify_chain().ok


def test_it_asks_for_a_comment_before_deciding(client, staff_reviewer, history):
    client.force_login(staff_reviewer)
    response = post_action(client, "reject_selected", history["request"], apply=False)
    assert response.status_code == 200
    assert b"You are about to <strong>reject</strong>" in response.content
    history["request"].refresh_from_db()
    assert history["request"].status == RequestStatus.PENDING


def test_it_rejects_through_the_service(client, staff_reviewer, history):
    client.force_login(staff_reviewer)
    post_action(client, "reject_selected", history["request"], comment="Not yet.")
    req = history["request"]
    req.refresh_from_db()
    history["v2"].refresh_from_db()
    assert req.status == RequestStatus.REJECTED
    assert history["v2"].stage == Stage.STAGING
    row = LedgerEntry.objects.order_by("-id").first()
    assert (row.kind, row.comment, row.actor_username) == (
        LedgerKind.REJECTION,
        "Not yet.",
        staff_reviewer.username,
    )


def test_it_refuses_self_approval_with_a_visible_message(
    client, role_groups, team, registered_model, publisher
):
    requester = make_user(
        "rae-both", role_groups["Publishers"], role_groups["Reviewers"], team, is_staff=True
    )
    version = register(registered_model, publisher)
    services.version_transition(version=version, to=Stage.STAGING, actor=requester)
    req = services.transition_request_create(version=version, to=Stage.PRODUCTION, actor=requester)
    ledger_before = LedgerEntry.objects.count()
    client.force_login(requester)

    with nothing_written():
        response = post_action(client, "approve_selected", req)

    assert response.status_code == 200
    assert any("cannot approve or reject" in m for m in messages_of(response))
    req.refresh_from_db()
    version.refresh_from_db()
    assert req.status == RequestStatus.PENDING
    assert version.stage == Stage.STAGING
    assert not Approval.objects.filter(transition_request=req).exists()
    assert LedgerEntry.objects.count() == ledger_before


def test_it_hides_the_decide_actions_without_the_permission(client, governance, history):
    client.force_login(governance)
    response = client.get(url("transitionrequest_changelist"))
    actions = (
        dict(response.context["action_form"].fields["action"].choices)
        if response.context.get("action_form")
        else {}
    )
    assert "approve_selected" not in actions and "reject_selected" not in actions

    with nothing_written():
        post_action(client, "approve_selected", history["request"])

    history["request"].refresh_from_db()
    assert history["request"].status == RequestStatus.PENDING
    assert not Approval.objects.filter(transition_request=history["request"]).exists()


def test_it_cannot_add_change_or_delete_requests(client, superuser, history):
    client.force_login(superuser)
    req = history["request"]
    with nothing_written():
        assert client.get(url("transitionrequest_add")).status_code == 403
        assert client.post(url("transitionrequest_change", req.pk), {"status": "approved"}).status_code == 403
        assert client.post(url("transitionrequest_delete", req.pk), {"post": "yes"}).status_code == 403
    req.refresh_from_db()
    assert req.status == RequestStatus.PENDING


# -- the ledger ---------------------------------------------------------------------------------------


def test_the_ledger_has_no_add_change_or_delete(client, superuser, history):
    client.force_login(superuser)
    row = LedgerEntry.objects.order_by("id").first()
    original = (row.comment, row.kind, row.row_hash)

    with nothing_written():
        assert client.get(url("ledgerentry_add")).status_code == 403
        assert client.post(url("ledgerentry_add"), {"kind": "direct"}).status_code == 403
        assert client.post(url("ledgerentry_change", row.pk), {"comment": "rewritten"}).status_code == 403
        assert client.get(url("ledgerentry_delete", row.pk)).status_code == 403
        assert client.post(url("ledgerentry_delete", row.pk), {"post": "yes"}).status_code == 403

    row.refresh_from_db()
    assert (row.comment, row.kind, row.row_hash) == original
    model_admin = django_admin.site._registry[LedgerEntry]
    request = RequestFactory().get("/")
    request.user = superuser
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, row)
    assert not model_admin.has_delete_permission(request, row)
    changelist = client.get(url("ledgerentry_changelist"))
    assert "delete_selected" not in dict(changelist.context["action_form"].fields["action"].choices)


def read_csv(response) -> list[list[str]]:
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_it_exports_the_ledger_as_csv_with_the_changelist_filters(client, governance, history):
    client.force_login(governance)
    rows = read_csv(client.get(url("ledgerentry_export")))
    header, body = rows[0], rows[1:]
    assert header[:5] == ["id", "created_at", "model", "version", "kind"]
    assert [int(r[0]) for r in body] == list(LedgerEntry.objects.order_by("id").values_list("id", flat=True))
    db_first = LedgerEntry.objects.order_by("id").first()
    assert body[0][header.index("row_hash")] == db_first.row_hash
    assert body[0][header.index("actor")] == db_first.actor_username

    approved = read_csv(client.get(url("ledgerentry_export"), {"kind": "approved"}))[1:]
    assert len(approved) == 1
    assert approved[0][header.index("kind")] == "approved"
    assert approved[0][header.index("comment")] == "ship it"
    assert approved[0][header.index("version")] == "1"


def test_it_neutralises_formulas_in_exported_cells(client, staff_reviewer, history):
    client.force_login(staff_reviewer)
    post_action(client, "reject_selected", history["request"], comment='=HYPERLINK("http://x")')
    rows = read_csv(client.get(url("ledgerentry_export"), {"kind": "rejection"}))
    assert rows[1][rows[0].index("comment")] == '\'=HYPERLINK("http://x")'


def test_it_exports_selected_rows_with_the_action(client, governance, history):
    client.force_login(governance)
    picked = list(LedgerEntry.objects.order_by("id")[:2])
    response = client.post(
        url("ledgerentry_changelist"),
        {"action": "export_selected_csv", "_selected_action": [r.pk for r in picked], "index": 0},
    )
    assert [int(r[0]) for r in read_csv(response)[1:]] == [r.pk for r in picked]


def test_the_export_needs_the_view_permission(client, role_groups):
    staff_without_roles = make_user("stu-staff", is_staff=True)
    client.force_login(staff_without_roles)
    with nothing_written():
        assert client.get(url("ledgerentry_export")).status_code == 403


# -- versions cannot be edited past the services ------------------------------------------------------


def test_versions_cannot_be_added_or_deleted(client, superuser, history):
    client.force_login(superuser)
    v1 = history["v1"]
    with nothing_written():
        assert client.get(url("modelversion_add")).status_code == 403
        assert client.post(url("modelversion_delete", v1.pk), {"post": "yes"}).status_code == 403
    assert ModelVersion.objects.filter(pk=v1.pk).exists()


def test_a_posted_change_cannot_alter_number_stage_status_or_files(client, superuser, history):
    client.force_login(superuser)
    v2 = history["v2"]
    files_before = list(
        ArtifactFile.objects.filter(version=v2).values_list("path", "size", "sha256", "storage_key")
    )
    ledger_before = LedgerEntry.objects.count()
    file = v2.files.get()
    data = {
        "description": "Edited in the admin.",
        "tags": '{"stage": "rc", "reviewed": "yes"}',
        "version": "99",
        "stage": "production",
        "status": "failed",
        "source_commit": "deadbeef",
        "metrics": '{"auc": 1.0}',
        "files-TOTAL_FORMS": "1",
        "files-INITIAL_FORMS": "1",
        "files-MIN_NUM_FORMS": "0",
        "files-MAX_NUM_FORMS": "0",
        "files-0-id": str(file.pk),
        "files-0-version": str(v2.pk),
        "files-0-path": "../../etc/passwd",
        "files-0-size": "1",
        "files-0-sha256": "0" * 64,
        "files-0-DELETE": "on",
        "transitions-TOTAL_FORMS": "0",
        "transitions-INITIAL_FORMS": "0",
        "transitions-MIN_NUM_FORMS": "0",
        "transitions-MAX_NUM_FORMS": "0",
    }

    response = client.post(url("modelversion_change", v2.pk), data)

    assert response.status_code == 302, response.content[:2000]
    v2.refresh_from_db()
    assert v2.description == "Edited in the admin."  # the one editable field, via version_update
    assert v2.tags == {"stage": "rc", "reviewed": "yes"}
    assert (v2.version, v2.stage, v2.status, v2.source_commit) == (2, Stage.STAGING, "ready", "")
    assert v2.metrics == {"auc": 0.93}
    files_after = list(
        ArtifactFile.objects.filter(version=v2).values_list("path", "size", "sha256", "storage_key")
    )
    assert files_after == files_before
    # The one change recorded is the card edit itself.
    assert list(LedgerEntry.objects.filter(id__gt=0).order_by("-id").values_list("kind", flat=True))[
        : LedgerEntry.objects.count() - ledger_before
    ] == [LedgerKind.VERSION_EDITED]


def test_governance_sees_versions_read_only(client, governance, history):
    client.force_login(governance)
    v1 = history["v1"]
    with nothing_written():
        assert client.post(url("modelversion_change", v1.pk), {"description": "x"}).status_code == 403
    v1.refresh_from_db()
    assert v1.description == ""


def test_a_service_refusal_on_a_version_is_a_form_error(client, superuser, history):
    client.force_login(superuser)
    v2 = history["v2"]
    data = {
        "description": "ok",
        "tags": '{"bad:key": "x"}',
        "files-TOTAL_FORMS": "0",
        "files-INITIAL_FORMS": "0",
        "transitions-TOTAL_FORMS": "0",
        "transitions-INITIAL_FORMS": "0",
    }
    with nothing_written():
        response = client.post(url("modelversion_change", v2.pk), data)
    assert response.status_code == 200
    assert "without &#x27;:&#x27;" in response.content.decode() or "without ':'" in response.content.decode()
    assert response.context["adminform"].form.errors["tags"]
    v2.refresh_from_db()
    assert v2.description == ""


# -- registered models through the services ----------------------------------------------------------------


def test_superuser_creates_a_model_through_the_service(client, superuser, team):
    client.force_login(superuser)
    data = {"name": "Churn.Model", "description": "", "tags": "{}", "team": team.pk, "required_approvals": 2}
    with nothing_written():
        response = client.post(url("registeredmodel_add"), data)
    assert response.status_code == 200  # the name validator refuses upper case on the form
    assert response.context["adminform"].form.errors["name"]

    data["name"] = "churn-model"
    response = client.post(url("registeredmodel_add"), data)
    assert response.status_code == 302
    model = RegisteredModel.objects.get(name="churn-model")
    assert (model.created_by, model.required_approvals, model.team) == (superuser, 2, team)


def test_a_refused_model_creation_is_a_form_error_not_a_500(client, role_groups, team, other_team):
    # Staff with the add permission but outside the team: the service refuses.
    user = make_user("ada-admin", role_groups["Publishers"], other_team, is_staff=True)
    client.force_login(user)
    data = {"name": "new-model", "description": "", "tags": "{}", "team": team.pk, "required_approvals": 1}
    with nothing_written():
        response = client.post(url("registeredmodel_add"), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.non_field_errors()
    assert any("members of team" in e for e in errors)
    assert not RegisteredModel.objects.filter(name="new-model").exists()


def test_governance_changes_policy_through_the_service(client, governance, registered_model, other_team):
    client.force_login(governance)
    data = {
        "description": registered_model.description,
        "tags": '{"domain": "payments"}',
        "team": other_team.pk,
        "required_approvals": 2,
    }
    response = client.post(url("registeredmodel_change", registered_model.pk), data)
    assert response.status_code == 302
    registered_model.refresh_from_db()
    assert (registered_model.required_approvals, registered_model.team, registered_model.tags) == (
        2,
        other_team,
        {"domain": "payments"},
    )
    row = LedgerEntry.objects.get(kind=LedgerKind.MODEL_CHANGED)
    assert row.details["required_approvals"] == {"from": 1, "to": 2}
    assert row.actor_username == governance.username
    with nothing_written():
        assert (
            client.post(url("registeredmodel_delete", registered_model.pk), {"post": "yes"}).status_code
            == 403
        )


# -- API tokens -----------------------------------------------------------------------------------------


def test_it_issues_a_token_showing_the_plaintext_once(client, governance, publisher):
    client.force_login(governance)
    response = client.post(
        url("apitoken_add"), {"user": publisher.pk, "name": "ci-pipeline", "expires_in_days": 30}, follow=True
    )
    assert response.status_code == 200
    found = re.findall(r"mr_[A-Za-z0-9_\-]{20,}", response.content.decode())
    assert len(set(found)) == 1
    plaintext = found[0]
    token = ApiToken.objects.get(user=publisher, name="ci-pipeline")
    assert token.token_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    assert token.expires_at is not None
    assert plaintext not in {token.name, token.prefix, token.token_hash}

    # Never again: not on the next page, not on the token's own page, and its hash is never shown.
    for page in (url("apitoken_changelist"), url("apitoken_change", token.pk)):
        body = client.get(page).content.decode()
        assert plaintext not in body
        assert token.token_hash not in body


def test_a_duplicate_token_name_is_a_form_error(client, governance, publisher):
    services_token = __import__("models_app.services.tokens", fromlist=["api_token_create"])
    services_token.api_token_create(user=publisher, name="ci")
    client.force_login(governance)
    with nothing_written():
        response = client.post(url("apitoken_add"), {"user": publisher.pk, "name": "ci"})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert ApiToken.objects.filter(user=publisher).count() == 1


def test_it_revokes_tokens_with_the_action(client, governance, publisher):
    from models_app.services.tokens import api_token_authenticate, api_token_create

    token, plaintext = api_token_create(user=publisher, name="laptop")
    client.force_login(governance)
    client.post(
        url("apitoken_changelist"), {"action": "revoke_selected", "_selected_action": [token.pk], "index": 0}
    )
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert api_token_authenticate(plaintext) is None
    with nothing_written():
        assert client.post(url("apitoken_delete", token.pk), {"post": "yes"}).status_code == 403


# -- users -----------------------------------------------------------------------------------------------


def test_governance_deactivates_but_cannot_delete_or_escalate(client, governance, publisher, superuser):
    client.force_login(governance)
    with nothing_written():
        refused = client.post(reverse("admin:auth_user_delete", args=[publisher.pk]), {"post": "yes"})
    assert refused.status_code == 403
    response = client.get(reverse("admin:auth_user_change", args=[publisher.pk]))
    assert "is_superuser" not in response.context["adminform"].form.fields
    assert (
        client.get(reverse("admin:auth_user_change", args=[superuser.pk])).context["has_change_permission"]
        is False
    )

    client.post(
        reverse("admin:auth_user_changelist"),
        {"action": "deactivate_selected", "_selected_action": [publisher.pk, superuser.pk], "index": 0},
    )
    assert User.objects.get(pk=publisher.pk).is_active is False
    assert User.objects.get(pk=superuser.pk).is_active is True


def test_changelists_run_a_fixed_number_of_queries(client, governance, registered_model, publisher):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(governance)
    pages = [
        url("modelversion_changelist"),
        url("ledgerentry_changelist"),
        url("registeredmodel_changelist"),
    ]

    def queries() -> list[int]:
        result = []
        for page in pages:
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(page).status_code == 200
            result.append(len(ctx.captured_queries))
        return result

    register(registered_model, publisher)
    few = queries()
    for _ in range(3):
        register(registered_model, publisher)
    assert queries() == few
