"""API routes (app_name="api")."""

from django.urls import path

from models_app.api import views

app_name = "api"

urlpatterns = [
    path("health/", views.health, name="health"),
]
