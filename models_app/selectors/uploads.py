"""Reads of direct uploads."""

from __future__ import annotations

import uuid

from models_app.exceptions import (
    UploadNotFound,
)
from models_app.models import (
    RegisteredModel,
    UploadSession,
)


def upload_session_get(*, registered_model: RegisteredModel, upload_id) -> UploadSession:
    """A direct upload of ``registered_model`` with its version and files."""
    try:
        upload_id = uuid.UUID(str(upload_id))
    except ValueError:
        raise UploadNotFound(f"'{registered_model.name}' has no upload {upload_id}.", field="id") from None
    session = (
        UploadSession.objects.select_related("version__registered_model", "created_by")
        .prefetch_related("files")
        .filter(pk=upload_id, version__registered_model=registered_model)
        .first()
    )
    if session is None:
        raise UploadNotFound(f"'{registered_model.name}' has no upload {upload_id}.", field="id")
    return session
