"""Governance sees the legal holds in the admin (placing and releasing them is Governance's by rule)."""

from django.db import migrations


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; the group needs this one now.
    app_config = apps.get_app_config("models_app")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    group = apps.get_model("auth", "Group").objects.filter(name="Governance").first()
    if group is not None:
        group.permissions.add(
            apps.get_model("auth", "Permission").objects.get(
                content_type__app_label="models_app", codename="view_legalhold"
            )
        )


def revoke(apps, schema_editor):
    group = apps.get_model("auth", "Group").objects.filter(name="Governance").first()
    if group is not None:
        group.permissions.remove(*group.permissions.filter(codename="view_legalhold"))


class Migration(migrations.Migration):
    dependencies = [
        ("models_app", "0015_gov_retention_purge_guard"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
