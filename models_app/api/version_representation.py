"""How a version is shown by the API: ``ModelVersionSerializer`` and its parts.

The declared fields are the contract (the OpenAPI schema is built from them). For versions read by
``selectors.version_rows`` the representation is written out in ``_row_representation``, because binding
DRF's fields costs more than the rest of a version read; tests/api/test_version_representation.py
checks that both give the same.
"""

from __future__ import annotations

from urllib.parse import quote

from django.core.exceptions import ObjectDoesNotExist
from django.urls import get_script_prefix, get_urlconf
from django.urls import reverse as django_reverse
from django.utils.http import RFC3986_SUBDELIMS
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import preserve_builtin_query_params, reverse

from models_app.api.deployment_fields import CurrentDeploymentsField
from models_app.api.hold_fields import HeldField, HoldField
from models_app.api.number_fields import AsciiIntegerField
from models_app.models import ArtifactFile, ModelVersion

# Stand in for a model name, a version and a file's path in a reversed URL; each is then replaced by the
# value, quoted as Django's ``reverse`` quotes a URL.
_NAME_SLOT = "name-slot-3f9c2a"
_REF_SLOT = "ref-slot-3f9c2a"
_PATH_SLOT = "path-slot-3f9c2a"


def _quoted(value: str) -> str:
    return quote(value, safe=RFC3986_SUBDELIMS + "/~:@")


# ``getattr`` default: an annotation the selector did not add (null is a value: no rows).
UNREAD = object()


class ArtifactFileSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="Where to download the bytes.")

    class Meta:
        model = ArtifactFile
        fields = ["path", "size", "sha256", "content_type", "url"]
        read_only_fields = fields

    def get_url(self, obj) -> str:
        version = self.context.get("version") or obj.version
        return reverse(
            "api:modelversion-file",
            kwargs={
                "name": version.registered_model.name,
                "ref": str(version.version),
                "path": obj.path,
            },
            request=self.context.get("request"),
        )


class SourceSerializer(serializers.Serializer):
    repository = serializers.CharField(source="source_repository", allow_blank=True)
    commit = serializers.CharField(source="source_commit", allow_blank=True)
    branch = serializers.CharField(source="source_branch", allow_blank=True)
    dirty = serializers.BooleanField(source="source_dirty")


class DatasetSerializer(serializers.Serializer):
    uri = serializers.CharField()
    version = serializers.CharField(required=False)
    digest = serializers.CharField(required=False)
    name = serializers.CharField(required=False)


class EnvironmentSerializer(serializers.Serializer):
    python_version = serializers.CharField(required=False)
    framework = serializers.CharField(required=False)
    framework_version = serializers.CharField(required=False)
    libraries = serializers.DictField(child=serializers.CharField(), required=False)
    requirements = serializers.CharField(required=False)


class VersionRunSerializer(serializers.Serializer):
    """Where a version registered through the MLflow protocol came from."""

    run_id = serializers.CharField(allow_null=True)
    experiment_id = serializers.CharField(allow_null=True)
    experiment = serializers.CharField(allow_null=True)
    logged_model_id = serializers.CharField(allow_null=True)
    source = serializers.CharField(help_text="The source the client named, e.g. models:/m-<id>.")
    url = serializers.CharField(allow_null=True, help_text="The run, through the MLflow protocol.")


_STAMP = serializers.DateTimeField()
_DATASET_KEYS = ("uri", "version", "digest", "name")
_ENVIRONMENT_KEYS = ("python_version", "framework", "framework_version", "libraries", "requirements")


def _strings(values: dict, keys=None) -> dict:
    """``values`` with string values (nulls kept) as DRF's CharFields give them, in the order of ``keys``
    (those present; all of them, in their own order, without ``keys``); ``libraries`` is left as is."""
    keys = values.keys() if keys is None else [key for key in keys if key in values]
    return {
        str(key): values[key] if values[key] is None or key == "libraries" else str(values[key])
        for key in keys
    }


class ModelVersionSerializer(serializers.ModelSerializer):
    """A version: number, stage, status, files, aliases and its lineage metadata."""

    model = serializers.CharField(source="registered_model.name", read_only=True)
    source = SourceSerializer(source="*", read_only=True)
    datasets = DatasetSerializer(many=True, read_only=True)
    parameters = serializers.DictField(read_only=True)
    metrics = serializers.DictField(child=serializers.FloatField(), read_only=True)
    environment = EnvironmentSerializer(read_only=True)
    signature = serializers.JSONField(read_only=True, allow_null=True)
    tags = serializers.DictField(child=serializers.CharField(), read_only=True)
    parent_version = AsciiIntegerField(source="parent.version", read_only=True, allow_null=True)
    run = serializers.SerializerMethodField(
        help_text="The tracked run (MLflow protocol) the version was registered from, or null."
    )
    files = serializers.SerializerMethodField()
    aliases = serializers.SerializerMethodField(help_text="Names of the aliases pointing at this version.")
    deployments = CurrentDeploymentsField()
    held = HeldField()
    hold = HoldField()
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = ModelVersion
        fields = [
            "model",
            "version",
            "stage",
            "status",
            "status_reason",
            "held",
            "hold",
            "files",
            "aliases",
            "deployments",
            "description",
            "tags",
            "source",
            "datasets",
            "parameters",
            "metrics",
            "environment",
            "signature",
            "run_url",
            "run",
            "parent_version",
            "created_by",
            "created_at",
            "url",
        ]
        read_only_fields = fields

    def to_representation(self, instance):
        if getattr(instance, "file_rows", UNREAD) is UNREAD:
            return super().to_representation(instance)
        return self._row_representation(instance)

    def _row_representation(self, obj) -> dict:
        """The fields above, written out for a version read by ``selectors.version_rows``: binding DRF's
        fields to each serializer costs more than the rest of a version read. The declared fields stay
        the contract (the schema is built from them) and tests/api/test_version_representation.py checks
        that this gives exactly what they give."""
        declared = self._declared_fields
        environment = obj.environment
        if environment is not None:
            environment = _strings(environment, _ENVIRONMENT_KEYS)
            if environment.get("libraries") is not None:
                environment["libraries"] = _strings(environment["libraries"])
        return {
            "model": obj.registered_model.name,
            "version": obj.version,
            "stage": str(obj.stage),
            "status": str(obj.status),
            "status_reason": obj.status_reason,
            "held": obj.hold_row is not None,
            "hold": declared["hold"].to_representation(obj),
            "files": self.get_files(obj),
            "aliases": self.get_aliases(obj),
            "deployments": declared["deployments"].to_representation(obj),
            "description": obj.description,
            "tags": _strings(obj.tags),
            "source": {
                "repository": obj.source_repository,
                "commit": obj.source_commit,
                "branch": obj.source_branch,
                "dirty": bool(obj.source_dirty),
            },
            "datasets": [_strings(row, _DATASET_KEYS) for row in obj.datasets],
            "parameters": {str(k): v for k, v in obj.parameters.items()},
            "metrics": {str(k): None if v is None else float(v) for k, v in obj.metrics.items()},
            "environment": environment,
            "signature": obj.signature,
            "run_url": obj.run_url,
            "run": self.get_run(obj),
            "parent_version": obj.parent.version if obj.parent_id else None,
            "created_by": obj.created_by.username,
            "created_at": _STAMP.to_representation(obj.created_at),
            "url": self.get_url(obj),
        }

    @extend_schema_field(ArtifactFileSerializer(many=True))
    def get_files(self, obj):
        if getattr(obj, "file_rows", UNREAD) is UNREAD:
            context = {**self.context, "version": obj}
            return ArtifactFileSerializer(obj.files.all(), many=True, context=context).data
        # Read as JSON by selectors.version_rows: the URL is reversed once per serializer, not per file.
        template = self._url("api:modelversion-file", name=obj.registered_model.name, ref=obj.version)
        return [
            {
                "path": row["path"],
                "size": row["size"],
                "sha256": row["sha256"],
                "content_type": row["content_type"],
                "url": template.replace(_PATH_SLOT, _quoted(row["path"])),
            }
            for row in sorted(obj.file_rows or (), key=lambda row: row["path"])
        ]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_aliases(self, obj) -> list[str]:
        if getattr(obj, "alias_names", UNREAD) is not UNREAD:
            return sorted(obj.alias_names or ())
        return [alias.name for alias in obj.aliases.all()]

    @extend_schema_field(VersionRunSerializer(allow_null=True))
    def get_run(self, obj) -> dict | None:
        try:
            origin = obj.origin
        except ObjectDoesNotExist:
            return None
        run = origin.run
        url = (
            reverse("mlflow:runs-get", request=self.context.get("request")) + f"?run_id={run.pk}"
            if run
            else None
        )
        return {
            "run_id": run.pk if run else None,
            "experiment_id": str(run.experiment_id) if run else None,
            "experiment": run.experiment.name if run else None,
            "logged_model_id": origin.logged_model_id,
            "source": origin.source,
            "url": url,
        }

    def get_url(self, obj) -> str:
        return self._url("api:modelversion-detail", name=obj.registered_model.name, ref=obj.version)

    def _url(self, viewname: str, *, name: str, ref) -> str:
        """``reverse(viewname)`` for this model and version. The URL's path is reversed once per process
        with stand-ins, which are then replaced, quoted as ``reverse`` quotes (a page of 50 versions
        would otherwise reverse 100 URLs, and every single read two)."""
        templates = self.__dict__.setdefault("_url_templates", {})
        if viewname not in templates:
            templates[viewname] = _absolute_template(viewname, self.context.get("request"))
        return templates[viewname].replace(_NAME_SLOT, _quoted(name)).replace(_REF_SLOT, _quoted(str(ref)))


_PATH_TEMPLATES: dict[tuple, str] = {}


def _absolute_template(viewname: str, request) -> str:
    """The URL DRF's ``reverse`` gives for ``viewname`` with the stand-ins, for this request: the path
    from a per-process table (it depends only on the URL configuration and the script prefix), made
    absolute for the request's host as ``reverse`` makes it."""
    kwargs = {"name": _NAME_SLOT, "ref": _REF_SLOT}
    if viewname == "api:modelversion-file":
        kwargs["path"] = _PATH_SLOT
    if getattr(request, "versioning_scheme", None) is not None:
        return reverse(viewname, kwargs=kwargs, request=request)
    key = (viewname, get_script_prefix(), get_urlconf())
    path = _PATH_TEMPLATES.get(key)
    if path is None:
        path = _PATH_TEMPLATES.setdefault(key, django_reverse(viewname, kwargs=kwargs))
    if request is None:
        return path
    return preserve_builtin_query_params(request.build_absolute_uri(path), request)
