"""Create the role groups (Publishers, Reviewers, Governance) with their permissions, and the ledger head."""

from django.db import migrations

# The role permissions as they stood when this migration was written (later migrations change them);
# a migration must not depend on today's code.
_VIEW = [
    ("models_app", f"view_{m}")
    for m in (
        "registeredmodel",
        "modelversion",
        "artifactfile",
        "transitionrequest",
        "approval",
        "modelalias",
        "stagetransition",
    )
]
ROLE_PERMISSIONS = {
    "Publishers": [("models_app", "add_registeredmodel"), ("models_app", "publish_modelversion"), *_VIEW],
    "Reviewers": [
        ("models_app", "decide_transitionrequest"),
        ("models_app", "rollback_modelversion"),
        *_VIEW,
    ],
    "Governance": [
        ("models_app", "change_registeredmodel"),
        ("models_app", "view_apitoken"),
        ("models_app", "add_apitoken"),
        ("models_app", "change_apitoken"),
        ("auth", "view_user"),
        ("auth", "add_user"),
        ("auth", "change_user"),
        ("auth", "view_group"),
        ("auth", "add_group"),
        ("auth", "change_group"),
        *_VIEW,
    ],
}


def create_roles(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    group_model, permission_model = apps.get_model("auth", "Group"), apps.get_model("auth", "Permission")
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role)
        for app_label, codename in perms:
            group.permissions.add(
                permission_model.objects.get(content_type__app_label=app_label, codename=codename)
            )
    apps.get_model("models_app", "LedgerHead").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [
        ("models_app", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
