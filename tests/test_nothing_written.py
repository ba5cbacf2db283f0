"""The suite's own guard: ``nothing_written()`` notices every kind of write a refused action could make."""

import pytest

from models_app import services
from models_app.choices import RequestStatus, Stage
from models_app.exceptions import NotAllowed
from models_app.models import ModelVersion, TransitionRequest
from tests.conftest import nothing_written, register


def test_a_block_that_writes_nothing_passes(registered_model, publisher, outsider):
    register(registered_model, publisher)
    with nothing_written(), pytest.raises(NotAllowed):
        register(registered_model, outsider)


def test_a_new_row_is_reported_with_its_table(registered_model, publisher):
    with pytest.raises(AssertionError, match="LedgerEntry rows") as failure, nothing_written():
        register(registered_model, publisher)
    assert "ModelVersion rows" in str(failure.value) and "ArtifactFile rows" in str(failure.value)


def test_a_stage_changed_in_place_is_reported(registered_model, publisher):
    version = register(registered_model, publisher)
    with pytest.raises(AssertionError, match="ModelVersion stage"), nothing_written():
        ModelVersion.objects.filter(pk=version.pk).update(stage=Stage.ARCHIVED)  # no ledger row, no event


def test_a_request_status_changed_in_place_is_reported(registered_model, publisher):
    version = register(registered_model, publisher)
    services.version_transition(version=version, to="staging", actor=publisher)
    req = services.transition_request_create(version=version, to="production", actor=publisher)
    with pytest.raises(AssertionError, match="TransitionRequest status"), nothing_written():
        TransitionRequest.objects.filter(pk=req.pk).update(status=RequestStatus.CANCELLED)


def test_a_user_deactivated_in_place_is_reported(publisher):
    with pytest.raises(AssertionError, match="User is_active"), nothing_written():
        type(publisher).objects.filter(pk=publisher.pk).update(is_active=False)


def test_an_exception_from_the_block_is_not_swallowed(db):
    with pytest.raises(NotAllowed), nothing_written():
        raise NotAllowed()
