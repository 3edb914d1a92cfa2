from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)
from rest_framework_simplejwt.views import TokenRefreshView, TokenVerifyView

from accounts.forms import LockoutAuthenticationForm
from accounts.views import LoginThrottledTokenObtainPairView, LogoutEverywhereView
from analytics.dashboard import dashboard
from core.api.exception_handler import json_api_not_found
from core.ops import health, metrics
from products.views import ProductPurchaseView, ProductRestockView
from salesproject.api import router

# The admin under the site's own name (templates/admin/base_site.html shows it too).
admin.site.site_header = admin.site.site_title = settings.SITE_NAME
admin.site.index_title = "Administration"

# The browsable API's login and logout (rest_framework.urls), with the lockout's message.
browsable_api_auth_patterns = (
    [
        path(
            "login/",
            auth_views.LoginView.as_view(
                template_name="rest_framework/login.html",
                authentication_form=LockoutAuthenticationForm,
            ),
            name="login",
        ),
        path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    ],
    "rest_framework",
)

api_patterns: list[URLPattern | URLResolver] = [
    path("auth/token/", LoginThrottledTokenObtainPairView.as_view(), name="token_obtain_pair"),
    path("auth/token/refresh/", TokenRefreshView.as_view(), name="token_refresh"),
    path("auth/token/verify/", TokenVerifyView.as_view(), name="token_verify"),
    path("auth/logout-all/", LogoutEverywhereView.as_view(), name="logout_all"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    # ReDoc without drf-spectacular's Google Fonts links (templates/api_docs/redoc.html).
    path(
        "redoc/",
        SpectacularRedocView.as_view(url_name="schema", template_name="api_docs/redoc.html"),
        name="redoc",
    ),
    # The catalog contract (docs/catalog.md): Api-Key auth and {"detail"} bodies.
    path("products/<str:pk>/purchase/", ProductPurchaseView.as_view(), name="product-purchase"),
    path("products/<str:pk>/restock/", ProductRestockView.as_view(), name="product-restock"),
    path("", include(router.urls)),
    # Anything else under /api/ is a JSON 404, in debug mode too.
    re_path(r"^.*$", json_api_not_found),
]

urlpatterns = [
    path("", RedirectView.as_view(url="/api/", permanent=False)),
    path("admin/", admin.site.urls),
    path("dashboard/", dashboard, name="analytics-dashboard"),
    # Public probes for load balancers (no auth, never cached) and the protected Prometheus scrape.
    re_path(r"^health/live/?$", health.live, name="health-live"),
    re_path(r"^health/ready/?$", health.ready, name="health-ready"),
    re_path(r"^metrics/?$", metrics.metrics_view, name="metrics"),
    path("api/", include(api_patterns)),
    path("api-auth/", include(browsable_api_auth_patterns, namespace="rest_framework")),
    # OAuth2 for API consumers (accounts/oauth, docs/oauth.md): authorize, token, revoke_token,
    # introspect.
    path("o/", include("accounts.oauth.views")),
]

handler404 = "core.api.exception_handler.json_not_found"
handler500 = "core.api.exception_handler.json_server_error"
