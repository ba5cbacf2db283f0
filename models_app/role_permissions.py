"""The permissions each role group carries. Pure data, used by the demo data, the tests and the benchmarks
(migrations keep their own frozen copy)."""

_VIEW = [
    ("models_app", f"view_{m}")
    for m in (
        "registeredmodel",
        "modelversion",
        "artifactfile",
        "transitionrequest",
        "approval",
        "modelalias",
        "ledgerentry",
    )
]

ROLE_PERMISSIONS: dict[str, list[tuple[str, str]]] = {
    "Publishers": [
        ("models_app", "add_registeredmodel"),
        ("models_app", "publish_modelversion"),
        *_VIEW,
    ],
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
        # Sign-in through the identity provider: who is whom, and every role change it made.
        ("models_app", "view_oidcidentity"),
        ("models_app", "view_rolesyncrecord"),
        ("models_app", "view_legalhold"),
        *_VIEW,
    ],
}


def ensure_role_groups(group_model, permission_model) -> None:
    """Create the role groups and give them their permissions (idempotent)."""
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role)
        for app_label, codename in perms:
            group.permissions.add(
                permission_model.objects.get(content_type__app_label=app_label, codename=codename)
            )
