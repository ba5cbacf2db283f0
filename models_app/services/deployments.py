"""Deployment feedback from CD pipelines."""

from __future__ import annotations

import re

from django.db import transaction
from django.utils import timezone

from models_app import rules
from models_app.choices import (
    DeploymentStatus,
    LedgerKind,
)
from models_app.exceptions import (
    InvalidInput,
)
from models_app.metadata import clean_url
from models_app.models import (
    Deployment,
    ModelVersion,
)
from models_app.services._shared import lock_model, record, refresh_version

ENVIRONMENT_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}\Z")


def _clean_environment(value: object) -> str:
    if not isinstance(value, str) or not ENVIRONMENT_PATTERN.match(value):
        raise InvalidInput(
            "Use 1-64 lowercase letters, digits, '-', '_' or '.', starting with a letter or digit "
            "(for example 'prod-eu').",
            field="environment",
        )
    return value


def _clean_deployment_status(value: object) -> DeploymentStatus:
    try:
        return DeploymentStatus(value)
    except ValueError:
        raise InvalidInput(
            f"Unknown status {value!r}; use one of: {', '.join(DeploymentStatus.values)}.", field="status"
        ) from None


def deployment_report(
    *, version: ModelVersion, environment: str, status: DeploymentStatus | str, actor, url: str = ""
) -> Deployment:
    """Record what a CD pipeline did with a ready version in an environment.

    Writes the Deployment, a ``deployment`` ledger row and its ``deployment.reported`` event in one
    transaction. The model's team publishers and Reviewers (who roll back) may report.
    """
    environment = _clean_environment(environment)
    status = _clean_deployment_status(status)
    url = clean_url(url, "url")
    with transaction.atomic():
        model = lock_model(version.registered_model_id)
        version = refresh_version(version, model)
        rules.refuse(
            rules.first(
                rules.may_report_deployment(actor, registered_model=model),
                rules.version_usable(version, to="be deployed"),
            )
        )
        now = timezone.now()
        deployment = Deployment.objects.create(
            registered_model=model,
            version=version,
            environment=environment,
            status=status,
            url=url,
            reported_by=actor,
            reported_at=now,
        )
        record(
            registered_model=model,
            version=version,
            kind=LedgerKind.DEPLOYMENT,
            actor=actor,
            comment=f"{status} in {environment}",
            details={
                "deployment_id": deployment.pk,
                "environment": environment,
                "status": str(status),
                "url": url,
            },
            now=now,
        )
    return deployment
