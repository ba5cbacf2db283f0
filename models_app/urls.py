"""Reviewer UI routes (app_name="models_app")."""

app_name = "models_app"

urlpatterns: list = []
