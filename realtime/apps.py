from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = "Realtime feed"

    def ready(self) -> None:
        from realtime.api import schema  # noqa: F401 - registers the OpenAPI ticket scheme
