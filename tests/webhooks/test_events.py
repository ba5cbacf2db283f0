"""Every lifecycle change writes an outbox event in the same transaction."""

from __future__ import annotations

import io

import pytest
from django.db import transaction

from models_app import services
from models_app.choices import EventType, LedgerKind
from models_app.exceptions import ChecksumMismatch, SelfApprovalForbidden
from models_app.models import Event, LedgerEntry
from models_app.pipeline.events import LEDGER_EVENT_TYPES, event_body
from models_app.storage.artifacts import IncomingFile
from tests.conftest import nothing_written, promote, register


def types() -> list[str]:
    return list(Event.objects.order_by("sequence").values_list("type", flat=True))


def test_it_maps_every_ledger_kind_to_an_event_type():
    assert set(LEDGER_EVENT_TYPES) == set(LedgerKind.values)


def test_it_emits_an_event_for_every_lifecycle_change(registered_model, publisher, reviewer):
    v1 = register(registered_model, publisher)
    promote(v1, publisher, reviewer)
    v2 = register(registered_model, publisher)
    promote(v2, publisher, reviewer)
    services.version_rollback(
        registered_model=registered_model, version_number=1, actor=reviewer, reason="v2 leaks"
    )
    services.alias_set(registered_model=registered_model, alias="champion", version_number=1, actor=publisher)
    services.alias_delete(registered_model=registered_model, alias="champion", actor=publisher)
    services.deployment_report(version=v1, environment="prod-eu", status="succeeded", actor=publisher)

    assert types() == [
        EventType.MODEL_CREATED,
        EventType.VERSION_REGISTERED,
        EventType.STAGE_CHANGED,  # none -> staging
        EventType.TRANSITION_REQUESTED,
        EventType.TRANSITION_APPROVED,
        EventType.STAGE_CHANGED,  # staging -> production
        EventType.VERSION_REGISTERED,
        EventType.STAGE_CHANGED,
        EventType.TRANSITION_REQUESTED,
        EventType.TRANSITION_APPROVED,
        EventType.STAGE_CHANGED,  # automatic archive of v1
        EventType.STAGE_CHANGED,  # v2 -> production
        EventType.STAGE_CHANGED,  # automatic archive of v2 by the rollback
        EventType.ROLLBACK,
        EventType.ALIAS_MOVED,
        EventType.ALIAS_MOVED,
        EventType.DEPLOYMENT_REPORTED,
    ]
    sequences = list(Event.objects.order_by("sequence").values_list("sequence", flat=True))
    assert sequences == list(range(1, len(sequences) + 1))
    # Every ledger row has exactly one event, written with it.
    assert Event.objects.exclude(ledger_entry=None).count() == LedgerEntry.objects.count()

    archive = Event.objects.filter(type=EventType.STAGE_CHANGED, payload__kind=LedgerKind.AUTOMATIC).first()
    body = event_body(archive)
    assert body["model"] == "fraud-detector"
    assert body["version"] == 1
    assert body["actor"] == reviewer.username
    assert body["data"]["from_stage"] == "production"
    assert body["data"]["to_stage"] == "archived"
    assert body["data"]["files"][0]["sha256"] == v1.files.get().sha256

    approved = Event.objects.filter(type=EventType.TRANSITION_APPROVED).first()
    assert approved.payload["complete"] is True
    assert approved.payload["approvals"] == 1
    moved = Event.objects.filter(type=EventType.ALIAS_MOVED).order_by("sequence").last()
    assert moved.payload["alias"] == "champion"
    assert moved.payload["to_version"] is None
    deployed = Event.objects.get(type=EventType.DEPLOYMENT_REPORTED)
    assert deployed.payload["environment"] == "prod-eu"
    assert deployed.payload["status"] == "succeeded"


def test_it_marks_an_approval_incomplete_until_enough_reviewers_approved(
    registered_model, publisher, reviewer, reviewer2, governance
):
    services.registered_model_update(
        registered_model=registered_model, actor=governance, required_approvals=2
    )
    v1 = register(registered_model, publisher)
    services.version_transition(version=v1, to="staging", actor=publisher)
    req = services.transition_request_create(version=v1, to="production", actor=publisher)
    services.transition_request_approve(transition_request=req, actor=reviewer)
    services.transition_request_approve(transition_request=req, actor=reviewer2)
    approvals = Event.objects.filter(type=EventType.TRANSITION_APPROVED).order_by("sequence")
    assert [(e.payload["approvals"], e.payload["complete"]) for e in approvals] == [(1, False), (2, True)]
    assert Event.objects.filter(type=EventType.MODEL_UPDATED).get().payload["required_approvals"] == {
        "from": 1,
        "to": 2,
    }


def test_it_writes_no_event_when_the_change_is_refused(registered_model, publisher):
    v1 = register(registered_model, publisher)
    services.version_transition(version=v1, to="staging", actor=publisher)
    req = services.transition_request_create(version=v1, to="production", actor=publisher)
    before = Event.objects.count()
    with nothing_written(), pytest.raises(SelfApprovalForbidden):
        services.transition_request_approve(transition_request=req, actor=publisher)
    assert Event.objects.count() == before


def test_it_rolls_the_event_back_with_its_transaction(registered_model, publisher):
    v1 = register(registered_model, publisher)
    before = Event.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.version_transition(version=v1, to="staging", actor=publisher)
        assert Event.objects.count() == before + 1
        raise RuntimeError("the caller's transaction fails after the change")
    assert Event.objects.count() == before


def test_it_emits_version_failed_when_a_registration_fails(registered_model, publisher):
    with pytest.raises(ChecksumMismatch):
        services.version_register(
            registered_model=registered_model,
            actor=publisher,
            files=[IncomingFile(path="model.bin", stream=io.BytesIO(b"abc"), expected_sha256="0" * 64)],
        )
    failed = Event.objects.get(type=EventType.VERSION_FAILED)
    assert failed.registered_model == registered_model
    assert failed.actor == publisher
    assert failed.payload["code"] == "checksum_mismatch"
    assert failed.payload["files"] == ["model.bin"]
