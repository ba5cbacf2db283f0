from django.apps import AppConfig


class ModelsAppConfig(AppConfig):
    """The registry's domain: models, versions, artifacts, promotions and the audit ledger."""

    name = "models_app"
    verbose_name = "Model registry"
    default_auto_field = "django.db.models.BigAutoField"
