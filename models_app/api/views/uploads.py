"""Direct-to-bucket uploads over the API (S3 only).

1. ``POST /api/v1/models/{name}/uploads/`` declares the files (path, size, SHA-256) and the metadata;
   the registry numbers a ``pending`` version and answers with presigned PUT URLs, one per part.
2. The client PUTs each part's bytes straight to the bucket (the app server carries none of them).
3. ``POST /api/v1/models/{name}/uploads/{id}/complete/`` assembles and verifies every file and
   answers with the ``ready`` version; ``DELETE /api/v1/models/{name}/uploads/{id}/`` gives up.

With the filesystem backend the first call answers 409 ``direct_upload_unavailable``; the one-request
multipart ``POST /api/v1/models/{name}/versions/`` works with both backends.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from models_app import rules, selectors, services
from models_app.api import serializers as api_serializers
from models_app.api.number_fields import AsciiIntegerField
from models_app.api.schema import error_responses
from models_app.api.views.lookup import NAME_PARAM, ModelScopedMixin, validated
from models_app.choices import UploadStatus
from models_app.inputs import check_json_value, loads_strict
from models_app.models import UploadSession
from models_app.storage import objectstore
from models_app.storage.artifacts import artifact_storage

UPLOAD_ID_PARAM = OpenApiParameter(
    "upload_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The upload's id."
)
IDEMPOTENCY_PARAM = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="A retry with the same key answers with the upload the first attempt opened (200).",
)


# -- serializers --------------------------------------------------------------------------------------


class UploadFileInputSerializer(serializers.Serializer):
    path = serializers.CharField(
        max_length=1024, trim_whitespace=False, help_text="Relative path inside the version."
    )
    size = AsciiIntegerField(min_value=0, help_text="Exact size in bytes.")
    sha256 = serializers.RegexField(
        r"^[0-9a-fA-F]{64}\Z", help_text="SHA-256 of the whole file (64 hex digits); verified on completion."
    )
    content_type = serializers.CharField(max_length=255, required=False, default="application/octet-stream")


class StrictJSONField(serializers.JSONField):
    """A JSON value held to what a JSON column stores (``loads_strict``), also when a form sends it as text."""

    def to_internal_value(self, data):
        if isinstance(data, str | bytes) and (self.binary or getattr(data, "is_json_string", False)):
            return loads_strict(data, field=self.field_name)
        return check_json_value(data, field=self.field_name)


class UploadBeginInputSerializer(serializers.Serializer):
    metadata = StrictJSONField(
        required=False,
        default=dict,
        help_text="The version's metadata, as in the one-request registration (without `files`).",
    )
    files = UploadFileInputSerializer(many=True, allow_empty=False)


class UploadAbortInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=10_000)


class UploadPartSerializer(serializers.Serializer):
    part_number = AsciiIntegerField()
    offset = AsciiIntegerField(help_text="First byte of the file this part holds.")
    size = AsciiIntegerField(help_text="How many bytes this part holds.")
    url = serializers.URLField(help_text="Presigned URL: PUT exactly these bytes to it, with no other auth.")


class UploadFileSerializer(serializers.Serializer):
    path = serializers.CharField()
    size = AsciiIntegerField()
    sha256 = serializers.CharField()
    content_type = serializers.CharField()
    part_count = AsciiIntegerField()
    parts = UploadPartSerializer(
        many=True, help_text="Where to PUT each part; empty once the upload is no longer open."
    )


class UploadSessionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    model = serializers.CharField()
    version = AsciiIntegerField(help_text="The number of the pending version being uploaded.")
    status = serializers.ChoiceField(choices=UploadStatus.choices)
    version_status = serializers.CharField()
    error = serializers.CharField(help_text="Why the upload failed or was aborted.")
    part_size = AsciiIntegerField(help_text="Every part but the last has exactly this many bytes.")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(help_text="Not completed by then, the upload is aborted.")
    urls_expire_at = serializers.DateTimeField(
        allow_null=True, help_text="The part URLs stop working then; GET the upload for fresh ones."
    )
    complete_url = serializers.URLField()
    files = UploadFileSerializer(many=True)


def session_payload(request, session: UploadSession) -> dict:
    """The upload as the API shows it, with freshly signed part URLs while it is open."""
    storage = artifact_storage()
    model = session.version.registered_model
    is_open = session.status == UploadStatus.OPEN and objectstore.is_s3(storage)
    now = timezone.now()
    expires_in = max(1, min(int((session.expires_at - now).total_seconds()), objectstore.MAX_PRESIGN_SECONDS))
    files = []
    for upload in session.files.all():
        parts = []
        if is_open:
            parts = [
                {"part_number": p.part_number, "offset": p.offset, "size": p.size, "url": p.url}
                for p in objectstore.part_targets(
                    storage,
                    key=upload.storage_key,
                    upload_id=upload.upload_id,
                    size=upload.size,
                    part_size=session.part_size,
                    expires=expires_in,
                )
            ]
        files.append(
            {
                "path": upload.path,
                "size": upload.size,
                "sha256": upload.sha256,
                "content_type": upload.content_type,
                "part_count": upload.part_count,
                "parts": parts,
            }
        )
    complete = reverse("api:upload-complete", kwargs={"name": model.name, "upload_id": session.pk})
    return {
        "id": session.pk,
        "model": model.name,
        "version": session.version.version,
        "status": session.status,
        "version_status": session.version.status,
        "error": session.error,
        "part_size": session.part_size,
        "created_at": session.created_at,
        "expires_at": session.expires_at,
        "urls_expire_at": (now + timezone.timedelta(seconds=expires_in)) if is_open else None,
        "complete_url": request.build_absolute_uri(complete),
        "files": files,
    }


# -- views --------------------------------------------------------------------------------------------


@extend_schema(
    summary="Start a direct-to-bucket upload (S3)",
    description=(
        "Declares the files of a new version (path, exact size, SHA-256) with its metadata. The registry "
        "numbers a `pending` version and answers with presigned URLs, one per part of each file "
        f"(part size chosen by the server, {settings.REGISTRY_UPLOAD_PART_SIZE // 2**20} MiB by default). "
        "PUT each part's bytes to its URL, then call `complete_url`. With the filesystem backend this "
        "answers 409 `direct_upload_unavailable`: register with one multipart POST to `versions/` instead."
    ),
    tags=["uploads"],
    parameters=[NAME_PARAM, IDEMPOTENCY_PARAM],
    request=UploadBeginInputSerializer,
    responses={
        201: UploadSessionSerializer,
        200: OpenApiResponse(UploadSessionSerializer, description="A retry with the same Idempotency-Key."),
        **error_responses(400, 403, 404, 409, 413, 503),
    },
)
class UploadListView(ModelScopedMixin, APIView):
    def post(self, request, name):
        data = validated(UploadBeginInputSerializer, request.data)
        model = self.get_registered_model()
        key = request.headers.get("Idempotency-Key")
        known = (
            {s.pk for s in UploadSession.objects.filter(version__registered_model=model)} if key else set()
        )
        session = services.version_upload_begin(
            registered_model=model,
            actor=request.user,
            files=[services.DeclaredFile(**f) for f in data["files"]],
            metadata=data["metadata"],
            idempotency_key=key,
        )
        session = selectors.upload_session_get(registered_model=model, upload_id=session.pk)
        code = status.HTTP_200_OK if session.pk in known else status.HTTP_201_CREATED
        return Response(session_payload(request, session), status=code)


class UploadDetailView(ModelScopedMixin, APIView):
    def _session(self, upload_id) -> UploadSession:
        return selectors.upload_session_get(registered_model=self.get_registered_model(), upload_id=upload_id)

    @extend_schema(
        summary="Show a direct upload, with fresh part URLs while it is open",
        tags=["uploads"],
        parameters=[NAME_PARAM, UPLOAD_ID_PARAM],
        responses={200: UploadSessionSerializer, **error_responses(403, 404)},
    )
    def get(self, request, name, upload_id):
        session = self._session(upload_id)
        # The part URLs are write capabilities on the bucket: only those who may upload see them.
        rules.refuse(rules.may_manage_uploads(request.user, session=session))
        return Response(session_payload(request, session))

    @extend_schema(
        summary="Abort a direct upload",
        description="The pending version becomes `failed` (it keeps its number) and the uploaded parts are removed.",
        tags=["uploads"],
        parameters=[NAME_PARAM, UPLOAD_ID_PARAM],
        request=UploadAbortInputSerializer,
        responses={204: OpenApiResponse(description="Aborted."), **error_responses(403, 404, 409, 503)},
    )
    def delete(self, request, name, upload_id):
        data = validated(UploadAbortInputSerializer, request.data or {})
        services.version_upload_abort(
            session=self._session(upload_id), actor=request.user, reason=data.get("reason", "")
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    summary="Complete a direct upload",
    description=(
        "Assembles each file from its parts, checks its size and streams it from the bucket to check "
        "its SHA-256, and only then marks the version `ready` with its files. Missing parts answer 409 "
        "`upload_incomplete` (the upload stays open); a size or checksum mismatch answers 400 "
        "`checksum_mismatch` naming the file, marks the version `failed` and removes its bytes. "
        "Completing again answers with the same version."
    ),
    tags=["uploads"],
    parameters=[NAME_PARAM, UPLOAD_ID_PARAM],
    request=None,
    responses={200: api_serializers.ModelVersionSerializer, **error_responses(400, 403, 404, 409, 503)},
)
class UploadCompleteView(ModelScopedMixin, APIView):
    def post(self, request, name, upload_id):
        model = self.get_registered_model()
        session = selectors.upload_session_get(registered_model=model, upload_id=upload_id)
        version = services.version_upload_complete(session=session, actor=request.user)
        version = selectors.version_get(registered_model=model, ref=version.version)
        return Response(api_serializers.ModelVersionSerializer(version, context={"request": request}).data)
