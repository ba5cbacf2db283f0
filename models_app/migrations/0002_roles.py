"""Create the role groups (Publishers, Reviewers, Governance) with their permissions, and the ledger head."""

from django.db import migrations

from models_app.role_permissions import ensure_role_groups


def create_roles(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    ensure_role_groups(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))
    apps.get_model("models_app", "LedgerHead").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [
        ("models_app", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
