"""/metrics: access control, the registry's own metrics, and the counters moving with real work."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from models_app import services
from models_app.ops import metrics
from tests.conftest import promote, register

TOKEN = "scrape-token-0123456789abcdef"


def samples(response) -> dict:
    """{(name, ((label, value), ...)): value} from an exposition body."""
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


@pytest.fixture
def restricted(settings):
    settings.REGISTRY_METRICS_TOKEN = TOKEN
    settings.REGISTRY_METRICS_ALLOW_ANONYMOUS = False


def scrape(client):
    return client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")


@pytest.mark.django_db
@pytest.mark.usefixtures("restricted")
@pytest.mark.parametrize(
    "header", [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer ", f"Bearer {TOKEN}x"]
)
def test_it_refuses_callers_without_the_token(client, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get("/metrics", **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert "REGISTRY_METRICS_TOKEN" in response.json()["detail"]
    assert b"registry_" not in response.content


@pytest.mark.django_db
def test_without_a_token_configured_only_staff_sessions_get_in(client, settings, publisher, governance):
    settings.REGISTRY_METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401
    client.force_login(publisher)
    assert client.get("/metrics").status_code == 401
    client.force_login(governance)
    assert client.get("/metrics").status_code == 200


@pytest.mark.django_db
def test_anonymous_scrapes_when_allowed(client, settings):
    settings.REGISTRY_METRICS_ALLOW_ANONYMOUS = True
    body = samples(client.get("/metrics"))
    assert body[("registry_database_up", ())] == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("restricted")
def test_it_exposes_the_registry_metrics(client):
    body = samples(scrape(client))
    names = {name for name, _ in body}
    for expected in (
        "registry_registrations_total",
        "registry_artifact_bytes_in_total",
        "registry_artifact_bytes_out_total",
        "registry_transition_requests_pending",
        "registry_database_up",
    ):
        assert expected in names
    for kind in ("direct", "approved", "automatic", "rollback", "registered"):
        assert ("registry_transitions_total", (("kind", kind),)) in body
    for stage in ("none", "staging", "production", "archived"):
        assert ("registry_versions", (("stage", stage),)) in body
    # django-prometheus' request metrics are there too.
    assert any(name.startswith("django_http_requests") for name in names)


@pytest.mark.django_db
@pytest.mark.usefixtures("restricted")
def test_the_counters_follow_committed_work(
    client, registered_model, publisher, reviewer, django_capture_on_commit_callbacks
):
    before = samples(scrape(client))
    with django_capture_on_commit_callbacks(execute=True):
        v1 = register(registered_model, publisher, files={"a.bin": b"x" * 1000, "b.bin": b"y" * 24})
        services.version_transition(version=v1, to="staging", actor=publisher)
        req = services.transition_request_create(version=v1, to="production", actor=publisher)
    during = samples(scrape(client))
    assert during[("registry_transition_requests_pending", ())] == 1
    with django_capture_on_commit_callbacks(execute=True):
        services.transition_request_approve(transition_request=req, actor=reviewer)
        v2 = register(registered_model, publisher)
        promote(v2, publisher, reviewer)
    after = samples(scrape(client))

    def delta(name, labels=()):
        return after[(name, labels)] - before[(name, labels)]

    assert delta("registry_registrations_total") == 2
    assert delta("registry_artifact_bytes_in_total") == 1024 + v2.files.get().size
    assert delta("registry_transitions_total", (("kind", "registered"),)) == 2
    assert delta("registry_transitions_total", (("kind", "direct"),)) == 2
    assert delta("registry_transitions_total", (("kind", "approved"),)) == 2
    assert delta("registry_transitions_total", (("kind", "automatic"),)) == 1  # v1 archived by v2
    assert after[("registry_transition_requests_pending", ())] == 0
    assert after[("registry_versions", (("stage", "production"),))] == 1
    assert after[("registry_versions", (("stage", "archived"),))] == 1


@pytest.mark.django_db
def test_rolled_back_work_is_not_counted(registered_model, publisher, django_capture_on_commit_callbacks):
    from django.db import transaction

    before = metrics.REGISTRATIONS._value.get()
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        register(registered_model, publisher)
        raise RuntimeError("the caller's transaction fails")
    assert metrics.REGISTRATIONS._value.get() == before


def test_downloads_count_the_bytes_actually_sent():
    before = metrics.ARTIFACT_BYTES_OUT._value.get()
    stream = metrics.count_bytes_out(iter([b"abc", b"", b"defgh"]))
    assert next(stream) == b"abc"
    assert metrics.ARTIFACT_BYTES_OUT._value.get() == before + 3
    assert b"".join(stream) == b"defgh"
    assert metrics.ARTIFACT_BYTES_OUT._value.get() == before + 8


@pytest.mark.django_db
@pytest.mark.usefixtures("restricted")
def test_webhook_deliveries_by_outcome_and_lag(client, registered_model, publisher, superuser, settings):
    """Read from the webhook tables."""
    import socket

    from models_app.pipeline import delivery
    from models_app.services import webhooks

    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    with socket.socket() as sock:  # a port nobody listens on: the attempt gets no response
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]
    webhooks.webhook_subscription_create(url=f"http://127.0.0.1:{dead}/hook", actor=superuser)
    register(registered_model, publisher)

    body = samples(scrape(client))
    assert body[("registry_webhook_deliveries", (("state", "pending"),))] >= 1
    assert body[("registry_webhook_lag_seconds", ())] >= 0
    assert body[("registry_webhook_delivery_attempts_total", (("result", "no_response"),))] == 0

    assert delivery.deliver_due(worker="metrics-test") >= 1
    body = samples(scrape(client))
    assert body[("registry_webhook_delivery_attempts_total", (("result", "no_response"),))] >= 1
    assert body[("registry_webhook_delivery_attempts_total", (("result", "success"),))] == 0


@pytest.mark.django_db
def test_api_downloads_count_bytes_out(client, registered_model, publisher):
    version = register(registered_model, publisher, files={"weights/model.bin": b"z" * 3000})
    client.force_login(publisher)
    url = f"/api/v1/models/{registered_model.name}/versions/{version.version}/files/weights/model.bin"
    before = metrics.ARTIFACT_BYTES_OUT._value.get()
    assert b"".join(client.get(url).streaming_content) == b"z" * 3000
    assert client.get(url, HTTP_RANGE="bytes=0-99").status_code == 206
    assert client.head(url).status_code == 200  # no body, nothing counted
    assert metrics.ARTIFACT_BYTES_OUT._value.get() == before + 3000 + 100
