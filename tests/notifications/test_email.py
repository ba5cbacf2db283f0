"""Notification e-mails through the outbox: queued in the transaction of the change, sent after commit
by the delivery worker to a real SMTP server, and never to someone who turned them off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from models_app import services
from models_app.choices import EmailState
from models_app.models import EmailNotification
from models_app.pipeline.notifications import email_send_due
from tests.conftest import make_user, register
from tests.notifications.conftest import RELAY_USER

pytestmark = [
    pytest.mark.django_db,
    # The test relay takes AUTH without TLS: it listens on loopback only.
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]


@pytest.fixture
def people(publisher, reviewer, reviewer2, role_groups):
    for user, address in (
        (publisher, "pat@example.com"),
        (reviewer, "rita@example.com"),
        (reviewer2, "rob@example.com"),
    ):
        user.email = address
        user.save(update_fields=["email"])
    mute = make_user("moe-reviewer", role_groups["Reviewers"], email="moe@example.com")
    services.notification_settings_set(actor=mute, email_notifications=False)
    return {"publisher": publisher, "reviewer": reviewer, "reviewer2": reviewer2, "mute": mute}


@pytest.fixture
def staged(registered_model, publisher):
    version = register(registered_model, publisher)
    services.version_transition(version=version, to="staging", actor=publisher)
    return version


def _request(version, publisher, comment="Better AUC."):
    return services.transition_request_create(
        version=version, to="production", actor=publisher, comment=comment
    )


def test_reviewers_are_emailed_after_commit_when_a_request_awaits_their_decision(smtp_server, people, staged):
    req = _request(staged, people["publisher"])
    queued = EmailNotification.objects.filter(state=EmailState.PENDING)
    assert sorted(queued.values_list("to_address", flat=True)) == ["rita@example.com", "rob@example.com"]
    assert smtp_server.messages == []  # queued in the transaction, not sent inline

    assert email_send_due() == 2
    [msg] = smtp_server.to("rita@example.com")
    assert msg["Subject"] == f"[Model Registry] fraud-detector v1 awaits your decision (request #{req.pk})"
    assert msg["From"] == "Model Registry <registry@example.com>"
    assert msg["Auto-Submitted"] == "auto-generated"
    body = msg.get_content()
    assert "pat-publisher asks to move fraud-detector v1 to Production." in body
    assert "Better AUC." in body
    assert "https://registry.example.com/models/fraud-detector/compare/?versions=1" in body
    assert "https://registry.example.com/settings/" in body
    assert smtp_server.to("pat@example.com") == [] and smtp_server.to("moe@example.com") == []
    assert smtp_server.logins and set(smtp_server.logins) == {RELAY_USER}
    assert set(EmailNotification.objects.values_list("state", flat=True)) == {EmailState.SENT}
    assert email_send_due() == 0  # sent once


def test_the_requester_is_emailed_when_the_request_is_approved_or_rejected(
    smtp_server, people, staged, registered_model
):
    req = _request(staged, people["publisher"])
    services.transition_request_approve(transition_request=req, actor=people["reviewer"], comment="Ship it.")
    email_send_due()
    [approved] = smtp_server.to("pat@example.com")
    assert (
        approved["Subject"]
        == f"[Model Registry] Approved: fraud-detector v1 is in Production (request #{req.pk})"
    )
    assert "rita-reviewer approved request" in approved.get_content() and "Ship it." in approved.get_content()

    v2 = register(registered_model, people["publisher"])
    services.version_transition(version=v2, to="staging", actor=people["publisher"])
    req2 = _request(v2, people["publisher"])
    services.transition_request_reject(transition_request=req2, actor=people["reviewer2"], comment="Latency.")
    email_send_due()
    rejected = smtp_server.to("pat@example.com")[-1]
    assert rejected["Subject"] == f"[Model Registry] Rejected: request #{req2.pk} for fraud-detector v2"
    assert "Latency." in rejected.get_content()


def test_nothing_is_queued_when_the_change_rolls_back(smtp_server, people, staged):
    with pytest.raises(RuntimeError), transaction.atomic():
        _request(staged, people["publisher"])
        raise RuntimeError("the surrounding transaction fails")
    assert not EmailNotification.objects.exists()
    assert email_send_due() == 0 and smtp_server.messages == []


def test_a_user_turns_notifications_off_on_the_settings_page(smtp_server, people, staged, client):
    client.force_login(people["reviewer"])
    page = client.get(reverse("models_app:user-settings")).content.decode()
    assert 'name="email_notifications"' in page and "checked" in page and "rita@example.com" in page

    _request(staged, people["publisher"])  # queued for rita while she still wanted e-mails
    response = client.post(reverse("models_app:user-settings"), {}, follow=True)
    assert "Notification e-mails are off." in response.content.decode()
    people["reviewer"].notification_settings.refresh_from_db()
    assert people["reviewer"].notification_settings.email_notifications is False

    email_send_due()
    assert smtp_server.to("rita@example.com") == []  # already queued, but not sent once she turned it off
    assert EmailNotification.objects.get(to_address="rita@example.com").state == EmailState.SKIPPED
    assert len(smtp_server.to("rob@example.com")) == 1

    client.post(reverse("models_app:user-settings"), {"email_notifications": "on"})
    people["reviewer"].notification_settings.refresh_from_db()
    assert people["reviewer"].notification_settings.email_notifications is True


def test_an_unreachable_relay_leaves_the_email_queued_for_a_retry(smtp_server, settings, people, staged):
    settings.EMAIL_PORT = smtp_server.port + 1 if smtp_server.port < 65535 else 1  # nothing listens there
    settings.EMAIL_TIMEOUT = 2
    settings.EMAIL_MAX_ATTEMPTS = 2
    _request(staged, people["publisher"])
    assert email_send_due() == 2
    email = EmailNotification.objects.get(to_address="rita@example.com")
    assert email.state == EmailState.PENDING and email.attempts == 1
    assert "ConnectionRefusedError" in email.last_error or "Error" in email.last_error
    assert email.next_attempt_at > timezone.now() + timedelta(seconds=30)
    assert email_send_due() == 0  # not due yet

    EmailNotification.objects.update(next_attempt_at=timezone.now())
    email_send_due()
    email.refresh_from_db()
    assert email.state == EmailState.FAILED and email.attempts == 2


def test_wrong_relay_credentials_are_an_error_kept_on_the_email(smtp_server, settings, people, staged):
    settings.EMAIL_HOST_PASSWORD = "wrong"
    settings.EMAIL_TIMEOUT = 2
    _request(staged, people["publisher"])
    email_send_due()
    assert smtp_server.messages == []
    email = EmailNotification.objects.get(to_address="rita@example.com")
    # The relay refuses the login; the e-mail stays queued with the error for the next attempt.
    assert email.state == EmailState.PENDING and email.attempts == 1 and email.last_error.startswith("SMTP")


def test_the_delivery_worker_command_sends_the_emails(smtp_server, people, staged, capsys):
    _request(staged, people["publisher"])
    call_command("deliver_webhooks", "--once")
    assert "and 2 e-mails." in capsys.readouterr().out
    assert len(smtp_server.messages) == 2


def test_with_notifications_off_for_the_registry_nothing_is_queued(smtp_server, settings, people, staged):
    settings.EMAIL_NOTIFICATIONS = False
    _request(staged, people["publisher"])
    assert not EmailNotification.objects.exists()


def _settings_in_subprocess(env: dict) -> dict:
    code = (
        "import json, registry_site.settings as s; print(json.dumps({k: getattr(s, k) for k in "
        "('EMAIL_BACKEND', 'EMAIL_HOST', 'EMAIL_PORT', 'EMAIL_HOST_USER', 'EMAIL_HOST_PASSWORD', "
        "'EMAIL_USE_TLS', 'DEFAULT_FROM_EMAIL', 'EMAIL_NOTIFICATIONS')}))"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith(("REGISTRY_EMAIL", "DJANGO_DEBUG"))}
    out = subprocess.run(
        [sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_smtp_settings_come_from_the_environment():
    relay = _settings_in_subprocess(
        {
            "REGISTRY_EMAIL_HOST": "smtp-relay.corp.example",
            "REGISTRY_EMAIL_PORT": "587",
            "REGISTRY_EMAIL_USER": "registry",
            "REGISTRY_EMAIL_PASSWORD": "s3cret",
            "REGISTRY_EMAIL_USE_TLS": "1",
            "REGISTRY_EMAIL_FROM": "Registry <registry@corp.example>",
        }
    )
    assert relay == {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "smtp-relay.corp.example",
        "EMAIL_PORT": 587,
        "EMAIL_HOST_USER": "registry",
        "EMAIL_HOST_PASSWORD": "s3cret",
        "EMAIL_USE_TLS": True,
        "DEFAULT_FROM_EMAIL": "Registry <registry@corp.example>",
        "EMAIL_NOTIFICATIONS": True,
    }
    # Production without a relay queues nothing; development prints e-mails on the console.
    assert _settings_in_subprocess({})["EMAIL_NOTIFICATIONS"] is False
    dev = _settings_in_subprocess({"DJANGO_DEBUG": "1"})
    assert (
        dev["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
        and dev["EMAIL_NOTIFICATIONS"]
    )


def test_governance_sees_the_queued_emails_in_the_admin(smtp_server, people, staged, governance, client):
    _request(staged, people["publisher"])
    client.force_login(governance)
    response = client.get(reverse("admin:models_app_emailnotification_changelist"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "rita@example.com" in html and "awaits your decision" in html
