"""Facts for the rule tests: unsaved versions and requests, and one assertion for a refusal."""

from __future__ import annotations

from models_app.choices import RequestStatus, Stage, VersionStatus
from models_app.exceptions import RegistryError
from models_app.models import ModelVersion, TransitionRequest


def version(model, *, number=1, stage=Stage.NONE, status=VersionStatus.READY, metrics=None) -> ModelVersion:
    """A version as a service would read it, never saved: rules decide on the facts they are given."""
    return ModelVersion(
        registered_model=model, version=number, stage=stage, status=status, metrics=metrics or {}
    )


def transition_request(
    version_, *, requested_by, pk=7, target=Stage.PRODUCTION, status=RequestStatus.PENDING
) -> TransitionRequest:
    return TransitionRequest(
        pk=pk, version=version_, target_stage=target, status=status, requested_by=requested_by
    )


def assert_refused(refusal, cls: type[RegistryError], code: str, *words: str, field: str | None = None):
    """The refusal is exactly ``cls`` with ``code``, its message holds every one of ``words``, and it
    names ``field`` (None: no field)."""
    assert refusal is not None, f"expected {cls.__name__}, the rule allowed it"
    assert type(refusal) is cls, f"expected {cls.__name__}, got {type(refusal).__name__}: {refusal}"
    assert refusal.code == code
    for word in words:
        assert word in refusal.message, f"{word!r} not in {refusal.message!r}"
    assert refusal.field == field
