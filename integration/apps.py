from django.apps import AppConfig


class IntegrationConfig(AppConfig):
    name = "integration"
    verbose_name = "Invoice Bridge"

    def ready(self) -> None:
        from integration.redaction import install_log_record_factory

        install_log_record_factory()
