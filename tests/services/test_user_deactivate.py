"""Deactivating a user: tokens stop working at once, pending requests are cancelled, the change is recorded."""

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.urls import reverse
from rest_framework.test import APIClient

from models_app import services
from models_app.choices import LedgerKind, RequestStatus
from models_app.exceptions import NotAllowed
from models_app.models import ApiToken, LedgerEntry
from tests.conftest import nothing_written, register


@pytest.fixture
def pending(registered_model, publisher):
    version = register(registered_model, publisher)
    services.version_transition(version=version, to="staging", actor=publisher)
    return services.transition_request_create(version=version, to="production", actor=publisher)


def test_it_revokes_tokens_cancels_requests_and_records_it(publisher, governance, pending):
    token, plaintext = services.api_token_create(user=publisher, name="ci")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert client.get("/api/v1/models/").status_code == 200

    assert services.user_deactivate(user=publisher, actor=governance, reason="left the company") is True

    assert User.objects.get(pk=publisher.pk).is_active is False
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert client.get("/api/v1/models/").status_code == 401
    pending.refresh_from_db()
    assert pending.status == RequestStatus.CANCELLED
    row = LedgerEntry.objects.filter(kind=LedgerKind.CANCELLATION).get()
    assert (row.transition_request_id, row.actor_id) == (pending.pk, governance.pk)
    assert "requester was deactivated" in row.comment
    entry = LogEntry.objects.get(object_id=str(publisher.pk))
    assert entry.user_id == governance.pk
    assert "left the company" in entry.change_message and "Revoked 1 API token" in entry.change_message
    # A second deactivation changes nothing.
    assert services.user_deactivate(user=publisher, actor=governance) is False
    assert LogEntry.objects.count() == 1


@pytest.mark.parametrize("who", ["publisher", "self", "superuser"])
def test_it_refuses_and_writes_nothing(who, publisher, reviewer, governance, superuser):
    actor, target = {
        "publisher": (publisher, reviewer),
        "self": (governance, governance),
        "superuser": (governance, superuser),
    }[who]
    ledger_before = LedgerEntry.objects.count()
    with nothing_written(), pytest.raises(NotAllowed):
        services.user_deactivate(user=target, actor=actor)
    assert User.objects.get(pk=target.pk).is_active is True
    assert LedgerEntry.objects.count() == ledger_before
    assert not LogEntry.objects.exists()
    assert not ApiToken.objects.filter(revoked_at__isnull=False).exists()


def test_unticking_active_in_the_admin_goes_through_the_service(client, publisher, governance, pending):
    token, _ = services.api_token_create(user=publisher, name="ci")
    client.force_login(governance)
    url = reverse("admin:auth_user_change", args=[publisher.pk])
    form = client.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name != "is_active"}
    data["groups"] = [g.pk for g in publisher.groups.all()]
    data.pop("user_permissions", None)
    data.pop("password", None)
    data["date_joined_0"], data["date_joined_1"] = publisher.date_joined.strftime("%Y-%m-%d %H:%M:%S").split()
    data.pop("date_joined", None)
    data.pop("last_login", None)
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    assert User.objects.get(pk=publisher.pk).is_active is False
    token.refresh_from_db()
    assert token.revoked_at is not None
    pending.refresh_from_db()
    assert pending.status == RequestStatus.CANCELLED
