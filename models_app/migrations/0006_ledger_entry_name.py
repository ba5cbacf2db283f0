"""The ledger model's code name says what it is: LedgerEntry (the table keeps its name).

Permissions follow the model's new name, so the role groups keep theirs.
"""

from django.db import migrations


def rename_permissions(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for permission in Permission.objects.filter(
        content_type__app_label="models_app", codename__endswith="_stagetransition"
    ):
        action = permission.codename.removesuffix("_stagetransition")
        permission.codename = f"{action}_ledgerentry"
        permission.name = f"Can {action} ledger entry"
        permission.save(update_fields=["codename", "name"])


def restore_permissions(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for permission in Permission.objects.filter(
        content_type__app_label="models_app", codename__endswith="_ledgerentry"
    ):
        action = permission.codename.removesuffix("_ledgerentry")
        permission.codename = f"{action}_stagetransition"
        permission.name = f"Can {action} stage transition"
        permission.save(update_fields=["codename", "name"])


class Migration(migrations.Migration):
    dependencies = [
        ("models_app", "0005_promotion_policies"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        # Pinning the table first makes the rename a change of code name only.
        migrations.AlterModelTable(name="stagetransition", table="models_app_stagetransition"),
        migrations.RenameModel(old_name="StageTransition", new_name="LedgerEntry"),
        migrations.RunPython(rename_permissions, restore_permissions),
    ]
