"""Reviewer UI routes (app_name="models_app")."""

from django.urls import path

from models_app.ui import views
from models_app.ui import webhooks as views_webhooks

app_name = "models_app"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("models/", views.registeredmodel_list, name="registeredmodel-list"),
    path("models/<str:name>/", views.registeredmodel_detail, name="registeredmodel-detail"),
    path("models/<str:name>/history/", views.registeredmodel_history, name="registeredmodel-history"),
    path("models/<str:name>/compare/", views.modelversion_compare, name="modelversion-compare"),
    path("models/<str:name>/versions/<int:number>/", views.modelversion_detail, name="modelversion-detail"),
    path(
        "models/<str:name>/versions/<int:number>/transition/",
        views.modelversion_transition,
        name="modelversion-transition",
    ),
    path(
        "models/<str:name>/versions/<int:number>/request-promotion/",
        views.modelversion_request,
        name="modelversion-request",
    ),
    path(
        "models/<str:name>/versions/<int:number>/rollback/",
        views.modelversion_rollback,
        name="modelversion-rollback",
    ),
    path(
        "models/<str:name>/webhooks/",
        views_webhooks.webhooksubscription_list,
        name="webhooksubscription-list",
    ),
    path(
        "models/<str:name>/webhooks/<int:pk>/",
        views_webhooks.webhooksubscription_action,
        name="webhooksubscription-action",
    ),
    path(
        "models/<str:name>/webhooks/<int:pk>/deliveries/<int:delivery_id>/replay/",
        views_webhooks.webhookdelivery_replay,
        name="webhookdelivery-replay",
    ),
    path("approvals/", views.transitionrequest_list, name="transitionrequest-list"),
    path("approvals/<int:pk>/approve/", views.transitionrequest_approve, name="transitionrequest-approve"),
    path("approvals/<int:pk>/reject/", views.transitionrequest_reject, name="transitionrequest-reject"),
    path("approvals/<int:pk>/cancel/", views.transitionrequest_cancel, name="transitionrequest-cancel"),
    path("audit/", views.ledgerentry_list, name="ledgerentry-list"),
    path("audit/export.csv", views.ledgerentry_export, name="ledgerentry-export"),
]
