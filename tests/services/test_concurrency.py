"""Races on the real PostgreSQL: separate threads, separate connections, real row locks."""

import io
import threading

import pytest
from django.db import close_old_connections, connection

from models_app import services
from models_app.choices import Stage
from models_app.ledger import verify_chain
from models_app.models import LedgerEntry, ModelVersion, TransitionRequest
from models_app.storage.artifacts import IncomingFile
from tests.conftest import promote, register

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres(postgres_only):
    """Row locks are PostgreSQL's."""


def run_in_threads(targets, timeout=60):
    """Start every target at the same moment; return the exceptions they raised."""
    barrier = threading.Barrier(len(targets))
    errors = []

    def wrap(fn):
        try:
            barrier.wait(timeout=timeout)
            fn()
        except Exception as exc:  # collected and asserted by the test
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=wrap, args=(fn,)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "a thread did not finish in time"
    return errors


def test_fifty_concurrent_registrations_get_one_to_fifty(registered_model, publisher):
    def one(i):
        return lambda: services.version_register(
            registered_model=registered_model,
            actor=publisher,
            files=[IncomingFile("model.bin", io.BytesIO(f"weights {i}".encode()))],
        )

    errors = run_in_threads([one(i) for i in range(50)])
    assert errors == []
    numbers = sorted(
        ModelVersion.objects.filter(registered_model=registered_model).values_list("version", flat=True)
    )
    assert numbers == list(range(1, 51))
    assert verify_chain().ok


def test_two_reviewers_promoting_two_versions_at_once_leave_one_production(
    registered_model, publisher, reviewer, reviewer2
):
    requests = []
    for _ in range(2):
        version = register(registered_model, publisher)
        services.version_transition(version=version, to="staging", actor=publisher)
        requests.append(services.transition_request_create(version=version, to="production", actor=publisher))

    errors = run_in_threads(
        [
            lambda: services.transition_request_approve(transition_request=requests[0], actor=reviewer),
            lambda: services.transition_request_approve(transition_request=requests[1], actor=reviewer2),
        ]
    )
    assert errors == []
    assert ModelVersion.objects.filter(registered_model=registered_model, stage=Stage.PRODUCTION).count() == 1
    assert all(r.status == "approved" for r in TransitionRequest.objects.all())
    # The ledger tells the same story: each version's stage is its last stage-change row.
    for version in ModelVersion.objects.all():
        last = (
            LedgerEntry.objects.filter(
                version=version, kind__in=["direct", "approved", "automatic", "rollback"]
            )
            .order_by("-id")
            .first()
        )
        assert last.to_stage == version.stage
    assert sorted(ModelVersion.objects.values_list("stage", flat=True)) == [Stage.ARCHIVED, Stage.PRODUCTION]
    assert verify_chain().ok


def test_a_retirement_and_a_promotion_approved_at_once_leave_a_consistent_model(
    registered_model, publisher, reviewer, reviewer2
):
    """Whichever lands first, the other sees it under the model's lock: the promotion supersedes the
    retired version (or closes its retirement), and the model never has two Production versions."""
    live = register(registered_model, publisher)
    promote(live, publisher, reviewer)
    candidate = register(registered_model, publisher)
    services.version_transition(version=candidate, to="staging", actor=publisher)
    promotion = services.transition_request_create(version=candidate, to="production", actor=publisher)
    retirement = services.transition_request_create(
        version=live, to="archived", actor=publisher, comment="Old."
    )

    errors = run_in_threads(
        [
            lambda: services.transition_request_approve(transition_request=promotion, actor=reviewer),
            lambda: services.transition_request_approve(transition_request=retirement, actor=reviewer2),
        ]
    )
    # The retirement either applied first or finds itself decided already (closed by the promotion).
    assert all(getattr(e, "code", None) == "already_decided" for e in errors), errors
    live.refresh_from_db()
    candidate.refresh_from_db()
    assert (live.stage, candidate.stage) == (Stage.ARCHIVED, Stage.PRODUCTION)
    assert ModelVersion.objects.filter(registered_model=registered_model, stage=Stage.PRODUCTION).count() == 1
    assert not TransitionRequest.objects.filter(status="pending").exists()
    assert verify_chain().ok
