"""One tag at a time on a model's or a version's card (the MLflow protocol sets and deletes tags singly).

Each edit takes the model's row lock before it reads the tags, so two clients setting different tags at
once both keep theirs; the write itself is the ordinary card edit (``registered_model_update`` /
``version_update``), with its rule and its ledger row.
"""

from __future__ import annotations

from django.db import transaction

from models_app import rules
from models_app.models import ModelVersion, RegisteredModel
from models_app.services._shared import lock_model, refresh_version
from models_app.services.models import registered_model_update
from models_app.services.versions import version_update


def registered_model_tag_set(
    *, registered_model: RegisteredModel, key: str, value: str, actor
) -> RegisteredModel:
    """Set one tag of a model; nothing is written (and no ledger row) when it already has that value."""
    with transaction.atomic():
        model = lock_model(registered_model.pk)
        return registered_model_update(registered_model=model, actor=actor, tags={**model.tags, key: value})


def registered_model_tag_delete(*, registered_model: RegisteredModel, key: str, actor) -> RegisteredModel:
    """Remove one tag of a model; removing a tag it does not have changes nothing."""
    with transaction.atomic():
        model = lock_model(registered_model.pk)
        rules.refuse(rules.may_edit_model(actor, registered_model=model))
        if key not in model.tags:
            return model
        tags = {k: v for k, v in model.tags.items() if k != key}
        return registered_model_update(registered_model=model, actor=actor, tags=tags)


def version_tag_set(*, version: ModelVersion, key: str, value: str, actor) -> ModelVersion:
    """Set one tag of a version; nothing is written when it already has that value."""
    with transaction.atomic():
        model = lock_model(version.registered_model_id)
        version = refresh_version(version, model)
        return version_update(version=version, actor=actor, tags={**version.tags, key: value})


def version_tag_delete(*, version: ModelVersion, key: str, actor) -> ModelVersion:
    """Remove one tag of a version; removing a tag it does not have changes nothing."""
    with transaction.atomic():
        model = lock_model(version.registered_model_id)
        version = refresh_version(version, model)
        rules.refuse(rules.may_edit_version(actor, version=version))
        if key not in version.tags:
            return version
        tags = {k: v for k, v in version.tags.items() if k != key}
        return version_update(version=version, actor=actor, tags=tags)
