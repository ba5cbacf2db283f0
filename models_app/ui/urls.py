"""Reviewer UI routes (app_name="models_app")."""

from django.urls import path

from models_app.ui import account, actions, pages, webhooks

app_name = "models_app"

urlpatterns = [
    path("", pages.dashboard, name="dashboard"),
    path("models/", pages.registeredmodel_list, name="registeredmodel-list"),
    path("models/<str:name>/", pages.registeredmodel_detail, name="registeredmodel-detail"),
    path("models/<str:name>/history/", pages.registeredmodel_history, name="registeredmodel-history"),
    path("models/<str:name>/compare/", pages.modelversion_compare, name="modelversion-compare"),
    path("models/<str:name>/versions/<int:number>/", pages.modelversion_detail, name="modelversion-detail"),
    path(
        "models/<str:name>/versions/<int:number>/transition/",
        actions.modelversion_transition,
        name="modelversion-transition",
    ),
    path(
        "models/<str:name>/versions/<int:number>/request-promotion/",
        actions.modelversion_request,
        name="modelversion-request",
    ),
    path(
        "models/<str:name>/versions/<int:number>/retire/",
        actions.modelversion_retire,
        name="modelversion-retire",
    ),
    path(
        "models/<str:name>/versions/<int:number>/rollback/",
        actions.modelversion_rollback,
        name="modelversion-rollback",
    ),
    path(
        "models/<str:name>/versions/<int:number>/purge/",
        actions.modelversion_purge,
        name="modelversion-purge",
    ),
    path(
        "models/<str:name>/versions/<int:number>/hold/",
        actions.modelversion_hold,
        name="modelversion-hold",
    ),
    path(
        "models/<str:name>/versions/<int:number>/hold/release/",
        actions.modelversion_hold_release,
        name="modelversion-hold-release",
    ),
    path("models/<str:name>/hold/", actions.registeredmodel_hold, name="registeredmodel-hold"),
    path(
        "models/<str:name>/hold/release/",
        actions.registeredmodel_hold_release,
        name="registeredmodel-hold-release",
    ),
    path(
        "models/<str:name>/webhooks/",
        webhooks.webhooksubscription_list,
        name="webhooksubscription-list",
    ),
    path(
        "models/<str:name>/webhooks/<int:pk>/",
        webhooks.webhooksubscription_action,
        name="webhooksubscription-action",
    ),
    path(
        "models/<str:name>/webhooks/<int:pk>/deliveries/<int:delivery_id>/replay/",
        webhooks.webhookdelivery_replay,
        name="webhookdelivery-replay",
    ),
    path("approvals/", pages.transitionrequest_list, name="transitionrequest-list"),
    path("approvals/<int:pk>/approve/", actions.transitionrequest_approve, name="transitionrequest-approve"),
    path("approvals/<int:pk>/reject/", actions.transitionrequest_reject, name="transitionrequest-reject"),
    path("approvals/<int:pk>/cancel/", actions.transitionrequest_cancel, name="transitionrequest-cancel"),
    path("settings/", account.user_settings, name="user-settings"),
    path("audit/", pages.ledgerentry_list, name="ledgerentry-list"),
    path("audit/export.csv", pages.ledgerentry_export, name="ledgerentry-export"),
]
