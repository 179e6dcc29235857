from django.apps import AppConfig


class AuditsConfig(AppConfig):
    """Duplicate detection and resolution for Books customers and items (screens come with their issue)."""

    name = "audits"
    verbose_name = "Duplicate audits"
