"""URL map: the reviewer UI at /, the API under /api/v1/, the MLflow protocol under /api/2.0/ and /api/3.0/,
the governance admin under /admin/, signing in under /accounts/ and, with an identity provider, /oidc/."""

from django.contrib import admin
from django.urls import include, path

from models_app.ops.metrics import metrics_view
from models_app.sso import views as sso_views

admin.site.site_header = "Model Registry governance"
admin.site.site_title = "Model Registry"
admin.site.index_title = "Governance"

urlpatterns = [
    # Before the admin's own: the admin signs in and out like the rest of the registry.
    path("admin/login/", sso_views.admin_login, name="admin-login"),
    path("admin/logout/", sso_views.admin_logout, name="admin-logout"),
    path("admin/", admin.site.urls),
    path("accounts/login/", sso_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", sso_views.LogoutView.as_view(), name="logout"),
    path("oidc/", include("models_app.sso.urls")),
    path("api/v1/", include("models_app.api.urls")),
    # The MLflow client's own paths, at the root: the tracking URI is the registry's base URL.
    path("", include("models_app.mlflow.urls")),
    path("metrics", metrics_view, name="metrics"),
    path("", include("models_app.ui.urls")),
]

handler404 = "models_app.api.fallback_errors.not_found"
handler500 = "models_app.api.fallback_errors.server_error"
handler400 = "models_app.api.fallback_errors.bad_request"
handler403 = "models_app.api.fallback_errors.permission_denied"
