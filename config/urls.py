from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.api.views import HealthView
from sites.public import public_page

handler400 = "config.api.exceptions.handler400"
handler403 = "config.api.exceptions.handler403"
handler404 = "config.api.exceptions.handler404"
handler500 = "config.api.exceptions.handler500"

api_v1 = [
    path("health/", HealthView.as_view(), name="health"),
    path("", include("accounts.api.urls")),
    path("", include("organizations.api.urls")),
    path("", include("audit.api.urls")),
    path("", include("projects.api.urls")),
    path("", include("sites.api.urls")),
    path("", include("integrations.api.urls")),
    path("", include("billing.api.urls")),
    path("", include("realtime.api.urls")),
]

urlpatterns = [
    path("", TemplateView.as_view(template_name="landing.html"), name="landing"),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"), namespace="v1")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    # Pages behind the links in emails (accounts)
    path("", include("accounts.urls_pages")),
    # The live sites (local deployment provider): /p/{org}/{site}/{page path}
    path("p/<slug:org_slug>/<slug:site_slug>/", public_page, name="site-public-root"),
    path("p/<slug:org_slug>/<slug:site_slug>/<path:page_path>", public_page, name="site-public"),
]
