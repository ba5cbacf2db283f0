"""SSRF guard: internal targets are refused at subscription and at every delivery, redirects never followed.

No test sends traffic anywhere but 127.0.0.1: names are "resolved" by a patched resolver, and refusals
happen before any connection is opened.
"""

from __future__ import annotations

import pytest

from models_app import services
from models_app.choices import DeliveryState
from models_app.models import WebhookDelivery, WebhookSubscription
from models_app.pipeline import ssrf
from models_app.pipeline.delivery import deliver_due
from models_app.pipeline.ssrf import UnsafeWebhookTarget, address_problem
from models_app.services import webhooks
from tests.conftest import register
from tests.webhooks.conftest import Receiver

PUBLIC = "93.184.216.34"


@pytest.fixture
def strict(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    return settings


@pytest.fixture
def dns(monkeypatch):
    """A resolver answering from a dict for *.example.test and the real resolver otherwise."""
    answers: dict[str, list[str]] = {}
    real = ssrf.resolve_host

    def resolve(host, port):
        if host.endswith(".example.test"):
            if host not in answers:
                raise OSError("Name or service not known")
            return answers[host]
        return real(host, port)

    monkeypatch.setattr(ssrf, "resolve_host", resolve)
    return answers


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1/hooks", "loopback"),
        ("http://127.8.9.10:8080/hooks", "loopback"),
        ("http://[::1]/hooks", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://10.0.0.1/hooks", "private"),
        ("http://192.168.1.20/hooks", "private"),
        ("http://172.16.0.5/hooks", "private"),
        ("http://100.64.0.1/hooks", "not a public"),
        ("http://0.0.0.0/hooks", "unspecified"),
        ("http://[::ffff:127.0.0.1]/hooks", "loopback"),
        ("http://[fe80::1]/hooks", "link-local"),
        ("http://224.0.0.1/hooks", "multicast"),
        ("http://240.0.0.1/hooks", "reserved"),
        ("http://localhost/hooks", "loopback"),
        ("http://internal.example.test/hooks", "private"),
        ("http://split.example.test/hooks", "private"),
    ],
)
def test_it_refuses_internal_targets_at_subscription(strict, dns, registered_model, publisher, url, why):
    dns["internal.example.test"] = ["10.1.2.3"]
    dns["split.example.test"] = [PUBLIC, "192.168.0.1"]  # one bad answer is enough to refuse
    with pytest.raises(UnsafeWebhookTarget) as exc:
        webhooks.webhook_subscription_create(url=url, actor=publisher, registered_model=registered_model)
    assert exc.value.field == "url"
    assert why in str(exc.value)
    assert not WebhookSubscription.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.test/x",
        "hooks.example.test/x",
        "http://user:secret@hooks.example.test/x",
        "http://",
        "http://nowhere.example.test/x",
        "http://hooks.example.test/a b",
        "http://hooks.example.test:99999/x",
    ],
)
def test_it_refuses_malformed_or_unresolvable_urls(strict, dns, registered_model, publisher, url):
    dns["hooks.example.test"] = [PUBLIC]
    with pytest.raises(UnsafeWebhookTarget) as exc:
        webhooks.webhook_subscription_create(url=url, actor=publisher, registered_model=registered_model)
    assert exc.value.field == "url"


def test_it_accepts_a_public_target_without_contacting_it(strict, dns, registered_model, publisher):
    dns["hooks.example.test"] = [PUBLIC, "2606:4700::1111"]
    sub, secret = webhooks.webhook_subscription_create(
        url="https://hooks.example.test/registry", actor=publisher, registered_model=registered_model
    )
    assert sub.pk and secret.startswith("whsec_")


def test_it_refuses_at_delivery_when_the_allowance_is_off(settings, receiver, registered_model, publisher):
    sub, _ = webhooks.webhook_subscription_create(
        url=receiver.url, actor=publisher, registered_model=registered_model
    )
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    register(registered_model, publisher)
    deliver_due(worker="test", limit=1)
    delivery = WebhookDelivery.objects.get(subscription=sub)
    assert receiver.requests == []
    assert delivery.state == DeliveryState.PENDING
    attempt = delivery.attempt_log.get()
    assert attempt.status_code is None
    assert "Refused" in attempt.error and "loopback" in attempt.error


def test_it_checks_the_address_again_at_delivery_dns_rebinding(
    strict, dns, receiver, registered_model, publisher
):
    dns["rebind.example.test"] = [PUBLIC]
    sub, _ = webhooks.webhook_subscription_create(
        url=f"http://rebind.example.test:{receiver.port}/hooks",
        actor=publisher,
        registered_model=registered_model,
    )
    dns["rebind.example.test"] = ["127.0.0.1"]  # the name now points inside
    register(registered_model, publisher)
    deliver_due(worker="test", limit=1)
    assert receiver.requests == []
    error = WebhookDelivery.objects.get(subscription=sub).attempt_log.get().error
    assert "127.0.0.1 is a loopback address" in error


def test_it_connects_to_the_checked_address_not_a_fresh_lookup(dns, receiver, registered_model, publisher):
    # Allowance on: the name resolves (once, through the guard) to the loopback receiver. httpx itself
    # could not resolve this name at all, so an arriving request proves the connection was pinned.
    dns["pinned.example.test"] = ["127.0.0.1"]
    webhooks.webhook_subscription_create(
        url=f"http://pinned.example.test:{receiver.port}/hooks",
        actor=publisher,
        registered_model=registered_model,
    )
    register(registered_model, publisher)
    assert deliver_due(worker="test") == 1
    headers, _ = receiver.requests[0]
    assert headers["host"] == f"pinned.example.test:{receiver.port}"


@pytest.mark.parametrize("location", ["http://169.254.169.254/latest/meta-data/", "second-receiver"])
def test_it_never_follows_a_redirect(strict, monkeypatch, receiver, registered_model, publisher, location):
    strict.WEBHOOK_BACKOFF_BASE_SECONDS = strict.WEBHOOK_BACKOFF_MAX_SECONDS = 60  # one attempt each here
    # Treat the loopback receiver as if it were a public host, so the strict guard lets the first request
    # through; its redirect must still go nowhere.
    monkeypatch.setattr(ssrf, "address_problem", lambda a: None if a == "127.0.0.1" else address_problem(a))
    second = Receiver().start()
    try:
        receiver.answers.extend([302, 307])
        receiver.location = second.url if location == "second-receiver" else location
        sub, _ = webhooks.webhook_subscription_create(
            url=receiver.url, actor=publisher, registered_model=registered_model
        )
        v1 = register(registered_model, publisher)
        services.version_transition(version=v1, to="staging", actor=publisher)
        deliver_due(worker="test")
    finally:
        second.stop()
    assert second.requests == []
    assert len(receiver.requests) == 2
    for delivery in WebhookDelivery.objects.filter(subscription=sub):
        assert delivery.state == DeliveryState.PENDING
        assert delivery.last_status_code in (302, 307)
        assert "redirects are not followed" in delivery.last_error


def test_the_address_rules_cover_embedded_ipv4():
    assert address_problem("::ffff:10.0.0.1")
    assert address_problem("64:ff9b::7f00:1")  # NAT64 of 127.0.0.1
    assert address_problem("2002:7f00:1::")  # 6to4 of 127.0.0.1
    assert address_problem(PUBLIC) is None
    assert address_problem("2606:4700::1111") is None
