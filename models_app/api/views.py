"""API views. Each one parses input, calls a service or selector, and answers; errors are mapped in
``models_app.api.exceptions``. No rule lives here."""

from __future__ import annotations

import base64
import json
import posixpath

from django.conf import settings
from django.http import FileResponse, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from models_app import rules, selectors, services
from models_app.api import serializers as s
from models_app.api.exceptions import RangeNotSatisfiable
from models_app.api.parsers import ArtifactMultiPartParser
from models_app.api.schema import error_responses
from models_app.exceptions import (
    InvalidInput,
    NotFound,
    RegistryError,
    StorageUnavailable,
)
from models_app.filters import (
    LedgerFilterSet,
    ModelVersionFilterSet,
    RegisteredModelFilterSet,
    TransitionRequestFilterSet,
)
from models_app.models import ApiToken, LedgerEntry, ModelAlias, ModelVersion, RegisteredModel
from models_app.ops import metrics
from models_app.services import UNSET
from models_app.services.tokens import api_token_create, api_token_revoke
from models_app.storage import objectstore
from models_app.storage.artifacts import CHUNK_SIZE, IncomingFile, artifact_storage, iter_open_file

NAME_PARAM = OpenApiParameter("name", OpenApiTypes.STR, OpenApiParameter.PATH, description="Model name.")
REF_PARAM = OpenApiParameter(
    "ref",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="A version number, `latest`, `production`, `staging` (newest in Staging), `archived` or `@alias`.",
)


def validated(serializer_class, data, **kwargs) -> dict:
    """Shape-check ``data``; a bad field gives 400 naming it."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _renamed(exc: RegistryError, field: str) -> RegistryError:
    """The same error, naming the input field the caller actually sent."""
    exc.field = field
    return exc


def _model_or_404(name: str, *, field: str | None = None) -> RegisteredModel:
    try:
        return selectors.model_get(name=name)
    except NotFound as exc:
        raise (_renamed(exc, field) if field else exc) from None


def _version(model: RegisteredModel, ref, *, field: str | None = None) -> ModelVersion:
    try:
        return selectors.version_get(registered_model=model, ref=ref)
    except NotFound as exc:
        raise (_renamed(exc, field) if field else exc) from None


class ModelScopedMixin:
    """Views under ``/models/{name}/``: the model is looked up once per request."""

    def get_registered_model(self) -> RegisteredModel:
        if not hasattr(self, "_registered_model"):
            self._registered_model = _model_or_404(self.kwargs["name"])
        return self._registered_model


# -- models -----------------------------------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(summary="List models", tags=["models"]),
    post=extend_schema(
        summary="Create a model",
        tags=["models"],
        request=s.RegisteredModelCreateInputSerializer,
        responses={201: s.RegisteredModelSerializer, **error_responses(409)},
    ),
)
class RegisteredModelListView(generics.ListAPIView):
    serializer_class = s.RegisteredModelSerializer
    filterset_class = RegisteredModelFilterSet

    def get_queryset(self):
        return selectors.model_list()

    def post(self, request):
        data = validated(s.RegisteredModelCreateInputSerializer, request.data)
        model = services.registered_model_create(created_by=request.user, **data)
        model = selectors.model_get(name=model.name)
        body = self.get_serializer(model).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": body["url"]})


@extend_schema_view(
    get=extend_schema(summary="Get a model", tags=["models"], parameters=[NAME_PARAM]),
    patch=extend_schema(
        summary="Edit a model (description and tags; team and required approvals: Governance)",
        tags=["models"],
        parameters=[NAME_PARAM],
        request=s.RegisteredModelUpdateInputSerializer,
        responses={200: s.RegisteredModelSerializer},
    ),
)
class RegisteredModelDetailView(ModelScopedMixin, generics.GenericAPIView):
    serializer_class = s.RegisteredModelSerializer

    def get(self, request, name):
        return Response(self.get_serializer(self.get_registered_model()).data)

    def patch(self, request, name):
        data = validated(s.RegisteredModelUpdateInputSerializer, request.data)
        services.registered_model_update(
            registered_model=self.get_registered_model(), actor=request.user, **data
        )
        return Response(self.get_serializer(selectors.model_get(name=name)).data)


# -- versions ---------------------------------------------------------------------------------------


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
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"Must be a JSON object ({exc}).", field="metadata") from None


@extend_schema_view(
    get=extend_schema(summary="List a model's versions", tags=["versions"], parameters=[NAME_PARAM]),
    post=extend_schema(
        summary="Register a version (multipart: `file` parts and a `metadata` JSON part)",
        description=(
            "Each `file` part's filename is its relative path inside the version. The files are streamed "
            "to storage and hashed; a declared SHA-256 that does not match, a bad path or a duplicate path "
            "is refused with 400 and nothing is kept. With `Idempotency-Key`, a retry answers with the "
            "version the first attempt created (same 201 body, header `Idempotent-Replayed: true`)."
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
        responses={201: s.ModelVersionSerializer, **error_responses(400, 413, 503)},
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
        return selectors.version_list(registered_model=self.get_registered_model())

    def post(self, request, name):
        model = self.get_registered_model()
        # Refuse before receiving the body: an outsider's upload is not worth streaming to disk.
        # The service checks the same rule again.
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
            created_by=request.user,
            files=incoming,
            metadata=metadata,
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
        version = _version(model, version.version)
        body = self.get_serializer(version).data
        headers = {"Location": body["url"]}
        if not created:
            headers["Idempotent-Replayed"] = "true"
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
class ModelVersionDetailView(ModelScopedMixin, generics.GenericAPIView):
    serializer_class = s.ModelVersionSerializer

    def get(self, request, name, ref):
        return Response(self.get_serializer(_version(self.get_registered_model(), ref)).data)

    def patch(self, request, name, ref):
        data = validated(s.VersionUpdateInputSerializer, request.data)
        model = self.get_registered_model()
        version = _version(model, ref)
        services.version_update(version=version, actor=request.user, **data)
        return Response(self.get_serializer(_version(model, version.version)).data)


@extend_schema(
    summary="Move a version directly (where the rules allow it)",
    description="Production needs an approved transition request: this answers 409 `approval_required`.",
    tags=["versions"],
    parameters=[NAME_PARAM, REF_PARAM],
    request=s.TransitionInputSerializer,
    responses={200: s.ModelVersionSerializer, **error_responses(409)},
)
class ModelVersionTransitionView(ModelScopedMixin, generics.GenericAPIView):
    serializer_class = s.ModelVersionSerializer

    def post(self, request, name, ref):
        data = validated(s.TransitionInputSerializer, request.data)
        model = self.get_registered_model()
        version = _version(model, ref)
        services.version_transition(version=version, actor=request.user, **data)
        return Response(self.get_serializer(_version(model, version.version)).data)


@extend_schema(
    summary="Roll Production back to a version that was in Production before",
    tags=["versions"],
    parameters=[NAME_PARAM],
    request=s.RollbackInputSerializer,
    responses={200: s.ModelVersionSerializer, **error_responses(409)},
)
class ModelRollbackView(ModelScopedMixin, generics.GenericAPIView):
    serializer_class = s.ModelVersionSerializer

    def post(self, request, name):
        data = validated(s.RollbackInputSerializer, request.data)
        model = self.get_registered_model()
        version = services.version_rollback(
            registered_model=model, version_number=data["version"], actor=request.user, reason=data["reason"]
        )
        return Response(self.get_serializer(_version(model, version.version)).data)


# -- file download ----------------------------------------------------------------------------------


class _FirstRenderer(BaseContentNegotiation):
    """Downloads answer in bytes whatever the Accept header says; errors still come as JSON."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def repr_digest(sha256_hex: str) -> str:
    """``Repr-Digest`` value (RFC 9530) of a hex SHA-256."""
    return f"sha-256=:{base64.b64encode(bytes.fromhex(sha256_hex)).decode('ascii')}:"


def _etag_matches(header: str, etag: str) -> bool:
    candidates = [c.strip() for c in header.split(",")]
    # If-None-Match uses weak comparison: W/"x" matches "x".
    return any(c == "*" or c.removeprefix("W/") == etag for c in candidates)


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(start, end inclusive) of a single ``bytes=`` range; None to serve the whole file.

    Raises RangeNotSatisfiable (416) for a malformed or unsatisfiable byte range.
    """
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes":
        return None  # other units are ignored, as RFC 9110 allows
    if "," in spec:
        return None  # several ranges: answering with the whole file is allowed and simpler
    first, dash, last = spec.strip().partition("-")
    try:
        if not dash or (not first and not last):
            raise ValueError
        if not first:
            suffix = int(last)
            if suffix <= 0:
                raise ValueError
            start, end = max(size - suffix, 0), size - 1
        else:
            start = int(first)
            end = int(last) if last else size - 1
            if start > end:
                raise ValueError
            end = min(end, size - 1)
        if start < 0 or start >= size:
            raise ValueError
    except ValueError:
        raise RangeNotSatisfiable(header, size) from None
    return start, end


@extend_schema(
    summary="Download a file of a version",
    description=(
        "Streams the bytes with `Content-Length`, `ETag` (the quoted SHA-256), `Repr-Digest: "
        "sha-256=:<base64>:` and `Accept-Ranges: bytes`. A single `Range: bytes=...` answers 206 with "
        "`Content-Range`; `If-None-Match` with the ETag answers 304. Only ready versions can be downloaded. "
        "With S3 storage and REGISTRY_S3_REDIRECT_DOWNLOADS on, a GET answers 302 to a short-lived presigned "
        "bucket URL instead, carrying the same `ETag`, `Repr-Digest` and `X-Checksum-Sha256` so the client "
        "still verifies what it receives (send the `Range` header again to the bucket; no Authorization)."
    ),
    tags=["versions"],
    parameters=[
        NAME_PARAM,
        REF_PARAM,
        OpenApiParameter("path", OpenApiTypes.STR, OpenApiParameter.PATH, description="The file's path."),
        OpenApiParameter(
            "Range", OpenApiTypes.STR, OpenApiParameter.HEADER, description="`bytes=start-end`."
        ),
        OpenApiParameter("If-None-Match", OpenApiTypes.STR, OpenApiParameter.HEADER),
        OpenApiParameter("If-Range", OpenApiTypes.STR, OpenApiParameter.HEADER),
    ],
    responses={
        (200, "application/octet-stream"): OpenApiResponse(
            OpenApiTypes.BINARY, description="The whole file."
        ),
        (206, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="The range."),
        302: OpenApiResponse(description="Redirect to a presigned bucket URL (S3, when enabled)."),
        304: OpenApiResponse(description="Not modified: the client's copy has this ETag."),
        **error_responses(409, 416, 503),
    },
)
class ArtifactFileDownloadView(ModelScopedMixin, APIView):
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _FirstRenderer

    def get(self, request, name, ref, path):
        version = _version(self.get_registered_model(), ref)
        record = selectors.version_file_get(version=version, path=path)
        etag = f'"{record.sha256}"'
        headers = {
            "ETag": etag,
            "Repr-Digest": repr_digest(record.sha256),
            "Accept-Ranges": "bytes",
            "Content-Disposition": content_disposition_header(True, posixpath.basename(record.path)),
            "Cache-Control": "private, no-cache",
            "X-Checksum-Sha256": record.sha256,
        }
        if_none_match = request.headers.get("If-None-Match")
        if if_none_match and _etag_matches(if_none_match, etag):
            return self._plain(HttpResponse(status=status.HTTP_304_NOT_MODIFIED), headers)

        span = None
        range_header = request.headers.get("Range")
        if_range = request.headers.get("If-Range")
        # An empty file has no satisfiable range; it is simply served whole.
        if range_header and record.size and (not if_range or if_range.strip() == etag):
            span = parse_range(range_header, record.size)

        storage = artifact_storage()
        if request.method == "GET" and settings.REGISTRY_S3_REDIRECT_DOWNLOADS and objectstore.is_s3(storage):
            # The bytes go from the bucket to the client; the digest headers travel with the redirect.
            url = objectstore.presigned_download_url(
                storage, record.storage_key, filename=record.path, expires=storage.querystring_expire
            )
            headers.pop("Accept-Ranges")
            return self._plain(HttpResponseRedirect(url), headers)
        if request.method == "HEAD":
            response = HttpResponse(status=status.HTTP_206_PARTIAL_CONTENT if span else status.HTTP_200_OK)
            length = (span[1] - span[0] + 1) if span else record.size
        else:
            if objectstore.is_s3(storage):
                # Streams the GET body; S3File would copy the whole object locally before the first byte.
                length = (span[1] - span[0] + 1) if span else record.size
                try:
                    chunks = objectstore.open_stream(
                        storage, record.storage_key, start=span[0] if span else 0, length=length
                    )
                except FileNotFoundError as exc:
                    raise StorageUnavailable(
                        f"The stored bytes of {record.path!r} are missing; run verify_artifacts.",
                        field="path",
                    ) from exc
                response = StreamingHttpResponse(
                    metrics.count_bytes_out(chunks),
                    status=status.HTTP_206_PARTIAL_CONTENT if span else status.HTTP_200_OK,
                )
                if span:
                    headers["Content-Range"] = f"bytes {span[0]}-{span[1]}/{record.size}"
                headers["Content-Length"] = str(length)
                response["Content-Type"] = "application/octet-stream"
                return self._plain(response, headers)
            try:
                fh = storage.open(record.storage_key, "rb")
            except Exception as exc:
                raise StorageUnavailable(
                    f"The stored bytes of {record.path!r} cannot be read now ({exc.__class__.__name__}).",
                    field="path",
                ) from exc
            if span:
                length = span[1] - span[0] + 1
                response = StreamingHttpResponse(
                    iter_open_file(fh, start=span[0], length=length), status=status.HTTP_206_PARTIAL_CONTENT
                )
            else:
                length = record.size
                # FileResponse lets a WSGI server hand the file to sendfile() where it can.
                response = FileResponse(fh, content_type="application/octet-stream")
                response.block_size = CHUNK_SIZE
            # Counted as the body is handed to the server: a sendfile() transfer cannot be counted per chunk.
            metrics.record_bytes_out(length)
        if span:
            headers["Content-Range"] = f"bytes {span[0]}-{span[1]}/{record.size}"
        headers["Content-Length"] = str(length)
        response["Content-Type"] = "application/octet-stream"
        return self._plain(response, headers)

    def _plain(self, response, headers):
        for key, value in headers.items():
            response[key] = value
        return response

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        if isinstance(exc, RangeNotSatisfiable):
            response["Content-Range"] = f"bytes */{exc.size}"
        return response


# -- transition requests ----------------------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(summary="List transition requests", tags=["transition requests"]),
    post=extend_schema(
        summary="Request a promotion (to Production)",
        tags=["transition requests"],
        request=s.TransitionRequestCreateInputSerializer,
        responses={201: s.TransitionRequestSerializer, **error_responses(409)},
    ),
)
class TransitionRequestListView(generics.ListAPIView):
    serializer_class = s.TransitionRequestSerializer
    filterset_class = TransitionRequestFilterSet

    def get_queryset(self):
        return selectors.transition_request_list()

    def post(self, request):
        data = validated(s.TransitionRequestCreateInputSerializer, request.data)
        model = _model_or_404(data["model"], field="model")
        version = _version(model, data["version"], field="version")
        req = services.transition_request_create(
            version=version, to=data["to"], requested_by=request.user, comment=data["comment"]
        )
        body = self.get_serializer(selectors.transition_request_get(pk=req.pk)).data
        location = reverse("api:transitionrequest-detail", kwargs={"pk": req.pk}, request=request)
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": location})


ID_PARAM = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Request id.")


@extend_schema(summary="Get a transition request", tags=["transition requests"], parameters=[ID_PARAM])
class TransitionRequestDetailView(generics.GenericAPIView):
    serializer_class = s.TransitionRequestSerializer

    def get(self, request, pk):
        return Response(self.get_serializer(selectors.transition_request_get(pk=pk)).data)


class _DecisionView(generics.GenericAPIView):
    serializer_class = s.TransitionRequestSerializer
    service = None

    def post(self, request, pk):
        data = validated(s.DecisionInputSerializer, request.data)
        req = selectors.transition_request_get(pk=pk)
        type(self).service(req, request.user, data["comment"])
        return Response(self.get_serializer(selectors.transition_request_get(pk=pk)).data)


def _decision_schema(summary: str, description: str):
    return extend_schema(
        summary=summary,
        description=description,
        tags=["transition requests"],
        parameters=[ID_PARAM],
        request=s.DecisionInputSerializer,
        responses={200: s.TransitionRequestSerializer, **error_responses(409)},
    )


@_decision_schema(
    "Approve a request",
    "A reviewer other than the requester approves; with enough approvals the move is applied "
    "(the previous Production version is archived). The requester gets 403 `self_approval_forbidden`.",
)
class TransitionRequestApproveView(_DecisionView):
    @staticmethod
    def service(req, user, comment):
        return services.transition_request_approve(transition_request=req, reviewer=user, comment=comment)


@_decision_schema("Reject a request", "One rejection closes the request.")
class TransitionRequestRejectView(_DecisionView):
    @staticmethod
    def service(req, user, comment):
        return services.transition_request_reject(transition_request=req, reviewer=user, comment=comment)


@_decision_schema("Cancel a request", "Only the requester may cancel a pending request.")
class TransitionRequestCancelView(_DecisionView):
    @staticmethod
    def service(req, user, comment):
        return services.transition_request_cancel(transition_request=req, actor=user, comment=comment)


# -- aliases ----------------------------------------------------------------------------------------


ALIAS_PARAM = OpenApiParameter("alias", OpenApiTypes.STR, OpenApiParameter.PATH, description="Alias name.")


@extend_schema(summary="List a model's aliases", tags=["aliases"], parameters=[NAME_PARAM])
class ModelAliasListView(ModelScopedMixin, generics.ListAPIView):
    serializer_class = s.ModelAliasSerializer
    pagination_class = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ModelAlias.objects.none()
        return (
            ModelAlias.objects.filter(registered_model=self.get_registered_model())
            .select_related("registered_model", "version", "updated_by")
            .order_by("name")
        )


@extend_schema_view(
    get=extend_schema(summary="Get an alias", tags=["aliases"], parameters=[NAME_PARAM, ALIAS_PARAM]),
    put=extend_schema(
        summary="Point an alias at a version (compare-and-set with expected_version)",
        tags=["aliases"],
        parameters=[NAME_PARAM, ALIAS_PARAM],
        request=s.AliasSetInputSerializer,
        responses={200: s.ModelAliasSerializer, **error_responses(409)},
    ),
    delete=extend_schema(
        summary="Remove an alias (compare-and-set with expected_version)",
        tags=["aliases"],
        parameters=[
            NAME_PARAM,
            ALIAS_PARAM,
            OpenApiParameter(
                "expected_version",
                OpenApiTypes.INT,
                OpenApiParameter.QUERY,
                description="Compare-and-set: refuse with 409 unless the alias points at this version.",
            ),
        ],
        request=s.AliasDeleteInputSerializer,
        responses={204: OpenApiResponse(description="Removed."), **error_responses(409)},
    ),
)
class ModelAliasDetailView(ModelScopedMixin, generics.GenericAPIView):
    serializer_class = s.ModelAliasSerializer

    def _read(self, alias: str) -> ModelAlias:
        row = (
            ModelAlias.objects.filter(registered_model=self.get_registered_model(), name=alias)
            .select_related("registered_model", "version", "updated_by")
            .first()
        )
        if row is None:
            raise NotFound(f"Alias '@{alias}' does not exist on '{self.kwargs['name']}'.", field="alias")
        return row

    def get(self, request, name, alias):
        return Response(self.get_serializer(self._read(alias)).data)

    def put(self, request, name, alias):
        data = validated(s.AliasSetInputSerializer, request.data)
        services.alias_set(
            registered_model=self.get_registered_model(),
            alias=alias,
            version_number=data["version"],
            actor=request.user,
            expected_version=data.get("expected_version", UNSET),
        )
        return Response(self.get_serializer(self._read(alias)).data)

    def delete(self, request, name, alias):
        raw = request.data if request.data else request.query_params.dict()
        data = validated(s.AliasDeleteInputSerializer, raw)
        services.alias_delete(
            registered_model=self.get_registered_model(),
            alias=alias,
            actor=request.user,
            expected_version=data.get("expected_version", UNSET),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# -- audit and history ------------------------------------------------------------------------------


@extend_schema(summary="The audit ledger, newest first", tags=["audit"])
class AuditListView(generics.ListAPIView):
    serializer_class = s.LedgerEntrySerializer
    filterset_class = LedgerFilterSet

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return LedgerEntry.objects.none()
        return selectors.ledger_list()


class HistoryQuerySerializer(s.StrictInputSerializer):
    at = s.serializers.DateTimeField(help_text="ISO 8601 time; without an offset it is read as UTC.")


@extend_schema(
    summary="Which version held each stage and alias at a moment",
    tags=["audit"],
    parameters=[NAME_PARAM, HistoryQuerySerializer],
    responses={200: s.HistorySerializer, **error_responses(400)},
)
class ModelHistoryView(ModelScopedMixin, APIView):
    def get(self, request, name):
        at = validated(HistoryQuerySerializer, request.query_params.dict())["at"]
        model = self.get_registered_model()
        snap = selectors.model_history_at(registered_model=model, at=at)
        body = {
            "model": model.name,
            "at": snap.at,
            "stages": snap.stages,
            "aliases": snap.aliases,
            "production_entry": snap.production_entry,
            "production_request": snap.production_request,
            "production_approvals": snap.production_approvals,
            "policy": snap.policy,
        }
        return Response(s.HistorySerializer(body, context={"request": request}).data)


# -- tokens -----------------------------------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(summary="List your API tokens", tags=["tokens"]),
    post=extend_schema(
        summary="Create an API token (the plaintext is shown once)",
        tags=["tokens"],
        request=s.ApiTokenCreateInputSerializer,
        responses={201: s.ApiTokenCreatedSerializer, **error_responses(409)},
    ),
)
class ApiTokenListView(generics.ListAPIView):
    serializer_class = s.ApiTokenSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ApiToken.objects.none()
        return ApiToken.objects.filter(user=self.request.user).order_by("name", "id")

    def post(self, request):
        data = validated(s.ApiTokenCreateInputSerializer, request.data)
        token, plaintext = api_token_create(
            user=request.user, name=data["name"], expires_in_days=data.get("expires_in_days")
        )
        token.token = plaintext
        return Response(s.ApiTokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(summary="Get one of your API tokens", tags=["tokens"]),
    delete=extend_schema(
        summary="Revoke one of your API tokens (it stays listed, unusable)",
        tags=["tokens"],
        responses={204: OpenApiResponse(description="Revoked.")},
    ),
)
class ApiTokenDetailView(generics.GenericAPIView):
    serializer_class = s.ApiTokenSerializer

    def _own(self, pk) -> ApiToken:
        token = ApiToken.objects.filter(user=self.request.user, pk=pk).first()
        if token is None:
            raise NotFound(f"You have no API token #{pk}.", field="id")
        return token

    def get(self, request, pk):
        return Response(self.get_serializer(self._own(pk)).data)

    def delete(self, request, pk):
        api_token_revoke(token=self._own(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
