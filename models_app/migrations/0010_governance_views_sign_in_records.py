"""Governance reads the sign-in identities and the role changes sign-ins made (admin, read-only)."""

from django.db import migrations

# As this migration grants them; role_permissions.py holds today's full list.
GOVERNANCE_VIEWS = [("models_app", "view_oidcidentity"), ("models_app", "view_rolesyncrecord")]


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; the group needs these two now.
    app_config = apps.get_app_config("models_app")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    group_model, permission_model = apps.get_model("auth", "Group"), apps.get_model("auth", "Permission")
    group, _ = group_model.objects.get_or_create(name="Governance")
    for app_label, codename in GOVERNANCE_VIEWS:
        group.permissions.add(
            permission_model.objects.get(content_type__app_label=app_label, codename=codename)
        )


def revoke(apps, schema_editor):
    group_model, permission_model = apps.get_model("auth", "Group"), apps.get_model("auth", "Permission")
    group = group_model.objects.filter(name="Governance").first()
    if group is not None:
        group.permissions.remove(
            *permission_model.objects.filter(
                content_type__app_label="models_app", codename__in=[c for _, c in GOVERNANCE_VIEWS]
            )
        )


class Migration(migrations.Migration):
    dependencies = [("models_app", "0009_oidc_identity")]

    operations = [migrations.RunPython(grant, revoke)]
