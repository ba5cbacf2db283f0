"""API routes (app_name="api"). The paths are part of the public contract."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from models_app.api import health, uploads, views
from models_app.api.audit_verify import AuditVerifyView
from models_app.api.permissions import HasRegistryRole

# The schema and its viewers are for registry users too (only the health/ and ready/ probes are open).
_docs = {"permission_classes": [HasRegistryRole]}

app_name = "api"

urlpatterns = [
    path("health/", health.health, name="health"),
    path("ready/", health.ready, name="ready"),
    path("schema/", SpectacularAPIView.as_view(**_docs), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema", **_docs), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema", **_docs), name="redoc"),
    path("models/", views.RegisteredModelListView.as_view(), name="model-list"),
    path("models/<str:name>/", views.RegisteredModelDetailView.as_view(), name="model-detail"),
    path("models/<str:name>/versions/", views.ModelVersionListView.as_view(), name="modelversion-list"),
    path(
        "models/<str:name>/versions/<str:ref>/",
        views.ModelVersionDetailView.as_view(),
        name="modelversion-detail",
    ),
    path(
        "models/<str:name>/versions/<str:ref>/files/<path:path>",
        views.ArtifactFileDownloadView.as_view(),
        name="modelversion-file",
    ),
    path(
        "models/<str:name>/versions/<str:ref>/transition/",
        views.ModelVersionTransitionView.as_view(),
        name="modelversion-transition",
    ),
    path("models/<str:name>/rollback/", views.ModelRollbackView.as_view(), name="model-rollback"),
    path("models/<str:name>/aliases/", views.ModelAliasListView.as_view(), name="modelalias-list"),
    path(
        "models/<str:name>/aliases/<str:alias>/",
        views.ModelAliasDetailView.as_view(),
        name="modelalias-detail",
    ),
    path("models/<str:name>/history/", views.ModelHistoryView.as_view(), name="model-history"),
    path("transition-requests/", views.TransitionRequestListView.as_view(), name="transitionrequest-list"),
    path(
        "transition-requests/<int:pk>/",
        views.TransitionRequestDetailView.as_view(),
        name="transitionrequest-detail",
    ),
    path(
        "transition-requests/<int:pk>/approve/",
        views.TransitionRequestApproveView.as_view(),
        name="transitionrequest-approve",
    ),
    path(
        "transition-requests/<int:pk>/reject/",
        views.TransitionRequestRejectView.as_view(),
        name="transitionrequest-reject",
    ),
    path(
        "transition-requests/<int:pk>/cancel/",
        views.TransitionRequestCancelView.as_view(),
        name="transitionrequest-cancel",
    ),
    path("models/<str:name>/uploads/", uploads.UploadListView.as_view(), name="upload-list"),
    path(
        "models/<str:name>/uploads/<str:upload_id>/",
        uploads.UploadDetailView.as_view(),
        name="upload-detail",
    ),
    path(
        "models/<str:name>/uploads/<str:upload_id>/complete/",
        uploads.UploadCompleteView.as_view(),
        name="upload-complete",
    ),
    path("audit/", views.AuditListView.as_view(), name="audit-list"),
    path("audit/verify/", AuditVerifyView.as_view(), name="audit-verify"),
    path("tokens/", views.ApiTokenListView.as_view(), name="apitoken-list"),
    path("tokens/<int:pk>/", views.ApiTokenDetailView.as_view(), name="apitoken-detail"),
    # Events feed, webhooks and deployment reports.
    path("", include("models_app.api.hooks_urls")),
]
