"""Routes of the sites app (included under ``/api/v1/``)."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
