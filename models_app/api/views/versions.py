"""Versions: list, register (one multipart request), get by reference, edit, move, roll back."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.response import Response

from models_app import rules, selectors, services
from models_app.api import serializers as s
from models_app.api.parsers import ArtifactMultiPartParser
from models_app.api.schema import error_responses
from models_app.api.views.lookup import NAME_PARAM, REF_PARAM, ModelScopedMixin, validated
from models_app.exceptions import (
    InvalidInput,
)
from models_app.filters import (
    ModelVersionFilterSet,
)
from models_app.inputs import loads_strict
from models_app.models import ModelVersion
from models_app.storage.artifacts import IncomingFile


def _metadata_from(request) -> dict | None:
    """The ``metadata`` part as JSON, sent either as a form field or as a file part."""
    values = request.POST.getlist("metadata")
    uploads = request.FILES.getlist("metadata")
    if len(values) + len(uploads) > 1:
        raise InvalidInput("Send one metadata part.", field="metadata")
    if uploads:
        upload = uploads[0]
        if upload.size > 2 * 1024 * 1024:
            raise InvalidInput("The metadata part must be at most 2 MiB.", field="metadata")
        raw = upload.read()
    elif values:
        raw = values[0]
        # Django decodes form fields with errors="replace"; a replacement character means the bytes
        # were not UTF-8, and guessing at them would store something the client never sent.
        if "\ufffd" in raw:
            raise InvalidInput("Must be UTF-8 encoded JSON.", field="metadata")
    else:
        return None
    # Paths inside are named as the service names them (``parameters.lr``, ``tags.team``).
    return loads_strict(raw, field="metadata", inner="")


class VersionAnswerMixin(ModelScopedMixin):
    """Views that answer with one version of the model in the URL, as the version list shows it."""

    serializer_class = s.ModelVersionSerializer

    def version_answer(self, ref) -> Response:
        """The version ``ref`` names, read afresh in one query, as the list shows it."""
        return Response(self.get_serializer(selectors.version_read(name=self.kwargs["name"], ref=ref)).data)

    def version_act(self, ref, input_serializer, service) -> Response:
        """Validate the body, then ``service(version=..., actor=..., **body)`` on the version ``ref``
        names, and answer with the version as it is now."""
        data = validated(input_serializer, self.request.data)
        version = selectors.version_row_find(name=self.kwargs["name"], ref=ref)
        service(version=version, actor=self.request.user, **data)
        return self.version_answer(version.version)


@extend_schema_view(
    get=extend_schema(summary="List a model's versions", tags=["versions"], parameters=[NAME_PARAM]),
    post=extend_schema(
        summary="Register a version (multipart: `file` parts and a `metadata` JSON part)",
        description=(
            "Each `file` part's filename is its relative path inside the version. The files are streamed "
            "to storage and hashed; a declared SHA-256 that does not match, a bad path or a duplicate path "
            "is refused with 400 and nothing is kept. With `Idempotency-Key`, a retry answers 200 with the "
            "version the first attempt created (the same body, header `Idempotent-Replayed: true`), so a "
            "client can tell a replay (200) from a creation (201)."
        ),
        tags=["versions"],
        parameters=[
            NAME_PARAM,
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="Makes retries of this registration return the first attempt's version.",
            ),
        ],
        request={"multipart/form-data": s.VersionRegisterInputSerializer},
        responses={
            201: s.ModelVersionSerializer,
            200: OpenApiResponse(
                s.ModelVersionSerializer, description="A retry with the same Idempotency-Key."
            ),
            **error_responses(400, 413, 503),
        },
    ),
)
class ModelVersionListView(ModelScopedMixin, generics.ListAPIView):
    serializer_class = s.ModelVersionSerializer
    filterset_class = ModelVersionFilterSet

    def get_parsers(self):
        if self.request is not None and self.request.method == "POST":
            return [ArtifactMultiPartParser()]
        return super().get_parsers()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ModelVersion.objects.none()
        return selectors.version_rows().filter(registered_model=self.get_registered_model())

    def filter_queryset(self, queryset):
        # Unfiltered (what pipelines ask most), the page is read by SQL compiled once per process.
        filters = set(self.filterset_class.base_filters)
        if self.request.method == "GET" and not filters.intersection(self.request.query_params):
            return selectors.VersionsOfModel(self.get_registered_model())
        return super().filter_queryset(queryset)

    def post(self, request, name):
        model = self.get_registered_model()
        # Refuse before receiving the body: an outsider's upload is not worth streaming to disk. The
        # service applies the same rule again, answered from the caches on the user object (no query).
        rules.refuse(rules.may_publish(request.user, registered_model=model))
        parts = request.FILES
        unknown = sorted(set(parts) - {"file", "metadata"}) + sorted(set(request.POST) - {"metadata"})
        if unknown:
            raise InvalidInput("Unknown part; send `file` parts and one `metadata` part.", field=unknown[0])
        metadata = _metadata_from(request)
        incoming = [
            IncomingFile(
                path=upload.relative_path,
                stream=upload,
                content_type=upload.content_type or "application/octet-stream",
                # Checked against what reaches storage when the client declared nothing.
                expected_sha256=upload.sha256,
            )
            for upload in parts.getlist("file")
        ]
        version, created = services.version_register(
            registered_model=model,
            actor=request.user,
            files=incoming,
            metadata=metadata,
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
        body = self.get_serializer(selectors.version_read(name=model.name, ref=version.version)).data
        headers = {"Location": body["url"]}
        if not created:
            headers["Idempotent-Replayed"] = "true"
            return Response(body, status=status.HTTP_200_OK, headers=headers)
        return Response(body, status=status.HTTP_201_CREATED, headers=headers)


@extend_schema_view(
    get=extend_schema(
        summary="Get a version by reference", tags=["versions"], parameters=[NAME_PARAM, REF_PARAM]
    ),
    patch=extend_schema(
        summary="Edit a version's description and tags",
        tags=["versions"],
        parameters=[NAME_PARAM, REF_PARAM],
        request=s.VersionUpdateInputSerializer,
        responses={200: s.ModelVersionSerializer},
    ),
)
class ModelVersionDetailView(VersionAnswerMixin, generics.GenericAPIView):
    def get(self, request, name, ref):
        return self.version_answer(ref)

    def patch(self, request, name, ref):
        return self.version_act(ref, s.VersionUpdateInputSerializer, services.version_update)


@extend_schema(
    summary="Move a version directly (where the rules allow it)",
    description="Production needs an approved transition request: this answers 409 `approval_required`.",
    tags=["versions"],
    parameters=[NAME_PARAM, REF_PARAM],
    request=s.TransitionInputSerializer,
    responses={200: s.ModelVersionSerializer, **error_responses(409)},
)
class ModelVersionTransitionView(VersionAnswerMixin, generics.GenericAPIView):
    def post(self, request, name, ref):
        return self.version_act(ref, s.TransitionInputSerializer, services.version_transition)


@extend_schema(
    summary="Roll Production back to a version that was in Production before",
    tags=["versions"],
    parameters=[NAME_PARAM],
    request=s.RollbackInputSerializer,
    responses={200: s.ModelVersionSerializer, **error_responses(409)},
)
class ModelRollbackView(VersionAnswerMixin, generics.GenericAPIView):
    def post(self, request, name):
        data = validated(s.RollbackInputSerializer, request.data)
        version = services.version_rollback(
            registered_model=self.get_registered_model(),
            version_number=data["version"],
            actor=request.user,
            reason=data["reason"],
        )
        return self.version_answer(version.version)
