"""Create the `finance-admin` and `reviewer` groups (CONTRACT.md §7)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

REVIEWER = [
    "integration.view_legalentity",
    "integration.view_taxrule",
    "integration.view_invoicepush",
    "integration.view_pushevent",
    "integration.view_customerlink",
    "integration.view_itemlink",
    "integration.review_invoicepush",
]
FINANCE_ADMIN = [
    *REVIEWER,
    "integration.add_legalentity",
    "integration.change_legalentity",
    "integration.delete_legalentity",
    "integration.add_taxrule",
    "integration.change_taxrule",
    "integration.delete_taxrule",
    "integration.change_customerlink",
    "integration.change_itemlink",
]


def create_groups(apps, schema_editor):
    # Permissions are normally created after all migrations; make sure ours exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in (("reviewer", REVIEWER), ("finance-admin", FINANCE_ADMIN)):
        group, _ = Group.objects.get_or_create(name=name)
        for dotted in perms:
            app_label, codename = dotted.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["reviewer", "finance-admin"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("integration", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
