"""API routes of the pipeline integration (included by models_app/api/urls.py, app_name "api")."""

from django.urls import path

from models_app.api import hooks

urlpatterns = [
    path("events/", hooks.EventFeedView.as_view(), name="event-list"),
    path(
        "models/<str:name>/versions/<str:ref>/deployments/",
        hooks.DeploymentListView.as_view(),
        name="deployment-list",
    ),
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
