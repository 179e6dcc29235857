"""Give the roles (CONTRACT.md §7) their audit permissions: both see findings, finance-admins resolve them."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

REVIEWER = ["view_duplicateflag", "view_auditrun"]
FINANCE_ADMIN = [*REVIEWER, "resolve_duplicateflag", "add_auditrun"]


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in (("reviewer", REVIEWER), ("finance-admin", FINANCE_ADMIN)):
        group, _ = Group.objects.get_or_create(name=name)
        for codename in codenames:
            group.permissions.add(Permission.objects.get(content_type__app_label="audits", codename=codename))


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for group in apps.get_model("auth", "Group").objects.filter(name__in=["reviewer", "finance-admin"]):
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="audits"))


class Migration(migrations.Migration):
    dependencies = [("audits", "0001_initial"), ("integration", "0002_groups")]

    operations = [migrations.RunPython(grant, revoke)]
