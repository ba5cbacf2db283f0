"""selectors.upload_session_get."""

from datetime import timedelta

import pytest
from django.utils import timezone

from models_app import selectors, services
from models_app.exceptions import UploadNotFound
from models_app.models import ModelVersion, UploadSession


def test_an_upload_is_found_only_under_its_own_model(registered_model, publisher, team):
    version = ModelVersion.objects.create(registered_model=registered_model, version=1, created_by=publisher)
    session = UploadSession.objects.create(
        version=version,
        created_by=publisher,
        part_size=8 * 1024 * 1024,
        expires_at=timezone.now() + timedelta(hours=1),
    )
    assert (
        selectors.upload_session_get(registered_model=registered_model, upload_id=str(session.pk)) == session
    )
    other = services.registered_model_create(name="churn", team=team, actor=publisher)
    with pytest.raises(UploadNotFound) as exc:
        selectors.upload_session_get(registered_model=other, upload_id=session.pk)
    assert (exc.value.field, exc.value.message) == ("id", f"'churn' has no upload {session.pk}.")


# A fixed unknown id: parallel workers (pytest -n) must collect the same test names.
@pytest.mark.parametrize("upload_id", ["not-a-uuid", "", "3f6c2a1e-9b4d-4c8e-a7f2-5d1e0b9c8a64"])
def test_an_unknown_or_malformed_upload_id_is_upload_not_found(registered_model, upload_id):
    with pytest.raises(UploadNotFound) as exc:
        selectors.upload_session_get(registered_model=registered_model, upload_id=upload_id)
    assert exc.value.code == "upload_not_found"
    assert exc.value.field == "id"
