"""Governance: purge a version's files now, and place or release legal holds on a version or a model."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.response import Response

from models_app import selectors, services
from models_app.api import serializers as s
from models_app.api.schema import error_responses
from models_app.api.views.lookup import NAME_PARAM, REF_PARAM, ModelScopedMixin, validated, version_or_404


class _VersionReasonView(ModelScopedMixin, generics.GenericAPIView):
    """A Governance action on one version that takes a reason and answers the version as it is after."""

    serializer_class = s.ModelVersionSerializer

    def act(self, *, version, actor, reason) -> None:
        raise NotImplementedError

    def post(self, request, name, ref):
        reason = validated(s.ReasonInputSerializer, request.data)["reason"]
        model = self.get_registered_model()
        version = version_or_404(model, ref)
        self.act(version=version, actor=request.user, reason=reason)
        return Response(self.get_serializer(version_or_404(model, version.version)).data)


class _ModelReasonView(ModelScopedMixin, generics.GenericAPIView):
    """A Governance action on a whole model that takes a reason and answers the model as it is after."""

    serializer_class = s.RegisteredModelSerializer

    def act(self, *, registered_model, actor, reason) -> None:
        raise NotImplementedError

    def post(self, request, name):
        reason = validated(s.ReasonInputSerializer, request.data)["reason"]
        model = self.get_registered_model()
        self.act(registered_model=model, actor=request.user, reason=reason)
        return Response(self.get_serializer(selectors.registered_model_get(name=model.name)).data)


@extend_schema(
    summary="Purge a version's files now (Governance)",
    description=(
        "Removes the stored bytes; the version, its metadata and its files' paths, sizes and SHA-256 stay, "
        "and its status becomes `purged` (downloads answer 410 `version_purged`). Never the Production "
        "version, a Staging version, a version an alias points to, one with a pending request "
        "(409 `purge_protected`) or a held one (409 `version_held`). The ledger row records who purged "
        "it, why, and the bytes freed."
    ),
    tags=["governance"],
    parameters=[NAME_PARAM, REF_PARAM],
    request=s.ReasonInputSerializer,
    responses={200: s.ModelVersionSerializer, **error_responses(400, 403, 409, 410)},
)
class VersionPurgeView(_VersionReasonView):
    def act(self, *, version, actor, reason) -> None:
        services.version_purge(version=version, actor=actor, reason=reason)


@extend_schema(
    summary="Place a legal hold on a version (Governance)",
    description=(
        "While the hold lasts nothing purges the version's files (retention, Governance, `gc_artifacts`). "
        "Where the bucket has S3 Object Lock, the objects get an S3 legal hold too. 409 `already_held` "
        "when the version has one already."
    ),
    tags=["governance"],
    parameters=[NAME_PARAM, REF_PARAM],
    request=s.ReasonInputSerializer,
    responses={200: s.ModelVersionSerializer, **error_responses(400, 403, 409, 410, 503)},
)
class VersionHoldView(_VersionReasonView):
    def act(self, *, version, actor, reason) -> None:
        services.version_hold(version=version, actor=actor, reason=reason)


@extend_schema(
    summary="Release a version's legal hold (Governance)",
    description="409 `not_held` when the version has no hold of its own (a model hold is released on the model).",
    tags=["governance"],
    parameters=[NAME_PARAM, REF_PARAM],
    request=s.ReasonInputSerializer,
    responses={200: s.ModelVersionSerializer, **error_responses(400, 403, 409, 503)},
)
class VersionHoldReleaseView(_VersionReasonView):
    def act(self, *, version, actor, reason) -> None:
        services.hold_release(version=version, actor=actor, reason=reason)


@extend_schema(
    summary="Place a legal hold on a whole model (Governance)",
    description=(
        "Covers every version of the model, including versions registered while it lasts. 409 "
        "`already_held` when the model has one already."
    ),
    tags=["governance"],
    parameters=[NAME_PARAM],
    request=s.ReasonInputSerializer,
    responses={200: s.RegisteredModelSerializer, **error_responses(400, 403, 409, 503)},
)
class ModelHoldView(_ModelReasonView):
    def act(self, *, registered_model, actor, reason) -> None:
        services.model_hold(registered_model=registered_model, actor=actor, reason=reason)


@extend_schema(
    summary="Release a model's legal hold (Governance)",
    description="Versions with holds of their own stay held. 409 `not_held` when the model has none.",
    tags=["governance"],
    parameters=[NAME_PARAM],
    request=s.ReasonInputSerializer,
    responses={200: s.RegisteredModelSerializer, **error_responses(400, 403, 409, 503)},
)
class ModelHoldReleaseView(_ModelReasonView):
    def act(self, *, registered_model, actor, reason) -> None:
        services.hold_release(registered_model=registered_model, actor=actor, reason=reason)
