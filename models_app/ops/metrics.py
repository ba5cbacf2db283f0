"""Registry-specific Prometheus metrics and the access-checked ``/metrics`` view.

Two kinds of numbers:

* Counters of what *this process* did (registrations, ledger rows by kind, artifact bytes in and out).
  Under gunicorn they are aggregated over the workers through prometheus_client's multiprocess mode
  (``PROMETHEUS_MULTIPROC_DIR``, set by ``manage.py serve``); across instances, sum them in Prometheus.
* Gauges read from the database when scraped (pending requests, versions by stage, webhook outbox).
  They describe the whole registry, so every instance reports the same value: aggregate with ``max``.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Iterable, Iterator

import prometheus_client
from django.apps import apps
from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Q
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from prometheus_client import CollectorRegistry, Counter, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from models_app import choices
from models_app.choices import LedgerKind, RequestStatus, Stage
from models_app.models import ModelVersion, TransitionRequest

log = logging.getLogger(__name__)

REGISTRATIONS = Counter("registry_registrations", "Model versions registered (committed) by this process.")
TRANSITIONS = Counter(
    "registry_transitions",
    "Ledger rows committed by this process, by kind (stage changes are direct, approved, automatic "
    "and rollback; the other kinds are registrations, requests, decisions and alias moves).",
    ["kind"],
)
ARTIFACT_BYTES_IN = Counter("registry_artifact_bytes_in", "Artifact bytes stored through this process.")
ARTIFACT_BYTES_OUT = Counter("registry_artifact_bytes_out", "Artifact bytes served by this process.")

CLIENT_ABORTS = Counter(
    "registry_client_aborts",
    "Requests whose client reset or closed the connection before the body was complete, by where it was read.",
    ["where"],
)
CLIENT_ABORT_PLACES = ("api_upload", "api_body", "mlflow_artifact", "form_body")

for _kind in LedgerKind.values:  # every kind is exported from the first scrape, at 0
    TRANSITIONS.labels(kind=_kind)


for _where in CLIENT_ABORT_PLACES:
    CLIENT_ABORTS.labels(where=_where)


def record_client_abort(where: str) -> None:
    """Count one upload the client abandoned mid-body (``where``: one of CLIENT_ABORT_PLACES)."""
    CLIENT_ABORTS.labels(where=where).inc()


def record_registration(total_bytes: int) -> None:
    """Count one committed registration and the artifact bytes it stored."""
    REGISTRATIONS.inc()
    ARTIFACT_BYTES_IN.inc(total_bytes)


def record_ledger_row(kind: str) -> None:
    """Count one committed ledger row."""
    TRANSITIONS.labels(kind=str(kind)).inc()


def record_bytes_out(count: int) -> None:
    """Count artifact bytes sent to a client."""
    if count > 0:
        ARTIFACT_BYTES_OUT.inc(count)


def count_bytes_out(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Wrap a download's chunk iterator so the bytes actually sent are counted as they go."""
    for chunk in chunks:
        record_bytes_out(len(chunk))
        yield chunk


class RegistryStateCollector:
    """Gauges computed from the database at scrape time (cheap aggregate queries)."""

    def collect(self):
        up = GaugeMetricFamily("registry_database_up", "1 when the last scrape could query the database.")
        try:
            families = list(self._from_database())
        except DatabaseError:
            log.warning("metrics: the database could not be queried", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _from_database(self):
        pending = GaugeMetricFamily(
            "registry_transition_requests_pending", "Transition requests waiting for a decision."
        )
        pending.add_metric([], TransitionRequest.objects.filter(status=RequestStatus.PENDING).count())
        yield pending

        by_stage = dict.fromkeys(Stage.values, 0)
        for row in ModelVersion.objects.order_by().values("stage").annotate(n=Count("pk")):
            by_stage[row["stage"]] = row["n"]
        versions = GaugeMetricFamily("registry_versions", "Model versions by stage.", labels=["stage"])
        for stage, n in sorted(by_stage.items()):
            versions.add_metric([stage], n)
        yield versions

        yield from webhook_families()


def _webhook_model(name: str):
    try:
        return apps.get_model("models_app", name)
    except LookupError:
        return None


def webhook_families():
    """Webhook delivery outcomes and lag, read from the webhook tables when this build has them.

    The delivery worker is a separate process that nobody scrapes, so its numbers come from the rows
    it writes: deliveries by state, attempts by result (database-wide totals, exported as counters),
    and the lag, the age of the oldest delivery still waiting to be sent.
    """
    delivery_model = _webhook_model("WebhookDelivery")
    attempt_model = _webhook_model("WebhookAttempt")
    if delivery_model is not None and _has_fields(delivery_model, "state", "created_at"):
        deliveries = GaugeMetricFamily(
            "registry_webhook_deliveries", "Webhook deliveries by state.", labels=["state"]
        )
        for row in delivery_model.objects.order_by().values("state").annotate(n=Count("pk")):
            deliveries.add_metric([str(row["state"])], row["n"])
        yield deliveries
        oldest = (
            delivery_model.objects.filter(state=_pending_delivery_state())
            .order_by("created_at")
            .values_list("created_at", flat=True)
            .first()
        )
        lag = GaugeMetricFamily(
            "registry_webhook_lag_seconds",
            "Age of the oldest webhook delivery still waiting to be sent (0 when none waits).",
        )
        lag.add_metric([], max(0.0, time.time() - oldest.timestamp()) if oldest else 0.0)
        yield lag
    if attempt_model is not None and _has_fields(attempt_model, "status_code"):
        totals = attempt_model.objects.aggregate(
            success=Count("pk", filter=Q(status_code__gte=200, status_code__lt=300)),
            http_error=Count("pk", filter=Q(status_code__isnull=False) & ~Q(status_code__range=(200, 299))),
            no_response=Count("pk", filter=Q(status_code__isnull=True)),
        )
        attempts = CounterMetricFamily(
            "registry_webhook_delivery_attempts",
            "Webhook delivery attempts recorded in the database, by result: success (2xx), http_error "
            "(any other status) or no_response (refused, timed out, blocked).",
            labels=["result"],
        )
        for result, n in totals.items():
            attempts.add_metric([result], n)
        yield attempts


def _pending_delivery_state() -> str:
    state = getattr(choices, "DeliveryState", None)
    return state.PENDING if state is not None else "pending"


def _has_fields(model, *names: str) -> bool:
    present = {f.name for f in model._meta.get_fields()}
    return all(n in present for n in names)


_STATE_REGISTRY = CollectorRegistry(auto_describe=False)
_STATE_REGISTRY.register(RegistryStateCollector())


def _process_registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Each gunicorn worker writes its own files; a scrape sums them, whichever worker answers.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return prometheus_client.REGISTRY


def metrics_access_allowed(request) -> bool:
    """Whether this caller may read /metrics (see REGISTRY_METRICS_* in docs/operations.md)."""
    if settings.REGISTRY_METRICS_ALLOW_ANONYMOUS:
        return True
    expected = settings.REGISTRY_METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    scheme, _, supplied = header.partition(" ")
    if expected and scheme.lower() == "bearer" and supplied.strip():
        return hmac.compare_digest(supplied.strip().encode(), expected.encode())
    user = getattr(request, "user", None)
    try:
        return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)
    except DatabaseError:  # a session user cannot be resolved while the database is down
        return False


@never_cache
def metrics_view(request):
    """Prometheus exposition: the process metrics (django-prometheus and the registry counters) and the
    registry state read from the database. Refused with 401 unless the caller is allowed."""
    if not metrics_access_allowed(request):
        response = JsonResponse(
            {
                "detail": "Metrics need 'Authorization: Bearer <REGISTRY_METRICS_TOKEN>' or a staff session.",
                "code": "not_authenticated",
            },
            status=401,
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body = prometheus_client.generate_latest(_process_registry()) + prometheus_client.generate_latest(
        _STATE_REGISTRY
    )
    return HttpResponse(body, content_type=prometheus_client.CONTENT_TYPE_LATEST)
