"""API routes (app_name="api"). The paths are part of the public contract."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from models_app.api.permissions import HasRegistryRole
from models_app.api.views import (
    aliases,
    audit,
    files,
    governance,
    health,
    hooks,
    models,
    policies,
    requests,
    root,
    tokens,
    uploads,
    versions,
)

# The schema and its viewers are for registry users too (only the health/ and ready/ probes are open).
_docs = {"permission_classes": [HasRegistryRole]}

app_name = "api"

MODEL = "models/<str:name>/"
VERSION = MODEL + "versions/<str:ref>/"

urlpatterns = [
    path("", root.ApiRootView.as_view(), name="root"),
    path("health/", health.health, name="health"),
    path("ready/", health.ready, name="ready"),
    path("schema/", SpectacularAPIView.as_view(**_docs), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema", **_docs), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema", **_docs), name="redoc"),
    # Models and versions.
    path("models/", models.RegisteredModelListView.as_view(), name="model-list"),
    path(MODEL, models.RegisteredModelDetailView.as_view(), name="model-detail"),
    path(MODEL + "versions/", versions.ModelVersionListView.as_view(), name="modelversion-list"),
    path(VERSION, versions.ModelVersionDetailView.as_view(), name="modelversion-detail"),
    path(VERSION + "files/<path:path>", files.ArtifactFileDownloadView.as_view(), name="modelversion-file"),
    path(
        VERSION + "transition/", versions.ModelVersionTransitionView.as_view(), name="modelversion-transition"
    ),
    path(MODEL + "rollback/", versions.ModelRollbackView.as_view(), name="model-rollback"),
    path(MODEL + "aliases/", aliases.ModelAliasListView.as_view(), name="modelalias-list"),
    path(MODEL + "aliases/<str:alias>/", aliases.ModelAliasDetailView.as_view(), name="modelalias-detail"),
    path(MODEL + "history/", audit.ModelHistoryView.as_view(), name="model-history"),
    path(MODEL + "policy/", policies.ModelPolicyView.as_view(), name="model-policy"),
    # Governance: purges and legal holds.
    path(VERSION + "purge/", governance.VersionPurgeView.as_view(), name="modelversion-purge"),
    path(VERSION + "hold/", governance.VersionHoldView.as_view(), name="modelversion-hold"),
    path(
        VERSION + "hold/release/",
        governance.VersionHoldReleaseView.as_view(),
        name="modelversion-hold-release",
    ),
    path(MODEL + "hold/", governance.ModelHoldView.as_view(), name="model-hold"),
    path(MODEL + "hold/release/", governance.ModelHoldReleaseView.as_view(), name="model-hold-release"),
    # Four-eyes requests.
    path("transition-requests/", requests.TransitionRequestListView.as_view(), name="transitionrequest-list"),
    path(
        "transition-requests/<int:pk>/",
        requests.TransitionRequestDetailView.as_view(),
        name="transitionrequest-detail",
    ),
    path(
        "transition-requests/<int:pk>/approve/",
        requests.TransitionRequestApproveView.as_view(),
        name="transitionrequest-approve",
    ),
    path(
        "transition-requests/<int:pk>/reject/",
        requests.TransitionRequestRejectView.as_view(),
        name="transitionrequest-reject",
    ),
    path(
        "transition-requests/<int:pk>/cancel/",
        requests.TransitionRequestCancelView.as_view(),
        name="transitionrequest-cancel",
    ),
    # Direct-to-bucket uploads.
    path(MODEL + "uploads/", uploads.UploadListView.as_view(), name="upload-list"),
    path(MODEL + "uploads/<str:upload_id>/", uploads.UploadDetailView.as_view(), name="upload-detail"),
    path(
        MODEL + "uploads/<str:upload_id>/complete/",
        uploads.UploadCompleteView.as_view(),
        name="upload-complete",
    ),
    # Audit and tokens.
    path("audit/", audit.AuditListView.as_view(), name="audit-list"),
    path("audit/verify/", audit.AuditVerifyView.as_view(), name="audit-verify"),
    path("tokens/", tokens.ApiTokenListView.as_view(), name="apitoken-list"),
    path("tokens/<int:pk>/", tokens.ApiTokenDetailView.as_view(), name="apitoken-detail"),
    # Events feed, webhooks and deployment reports.
    path("events/", hooks.EventFeedView.as_view(), name="event-list"),
    path(VERSION + "deployments/", hooks.DeploymentListView.as_view(), name="deployment-list"),
    path("webhooks/", hooks.WebhookSubscriptionListView.as_view(), name="webhook-list"),
    path("webhooks/<int:pk>/", hooks.WebhookSubscriptionDetailView.as_view(), name="webhook-detail"),
    path(
        "webhooks/<int:pk>/rotate-secret/",
        hooks.WebhookRotateSecretView.as_view(),
        name="webhook-rotate-secret",
    ),
    path("webhooks/<int:pk>/deliveries/", hooks.WebhookDeliveryListView.as_view(), name="webhook-deliveries"),
    path(
        "webhooks/<int:pk>/deliveries/<int:delivery_id>/replay/",
        hooks.WebhookDeliveryReplayView.as_view(),
        name="webhook-delivery-replay",
    ),
]
