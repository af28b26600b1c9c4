"""/api/v1/ routes, the OpenAPI schema and its documentation (served from PyPI's sidecar, no CDN)."""

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from okrs.api.urls import ROUTES as okrs_routes
from portal.api import metrics
from streams.api.urls import ROUTES as streams_routes
from teams.api.urls import ROUTES as teams_routes

# Each app carries its own API (`<app>/api/`); this only assembles their routes.
router = DefaultRouter()
for prefix, viewset, basename in [*teams_routes, *streams_routes, *okrs_routes]:
    router.register(prefix, viewset, basename=basename)

app_name = "api"
DOCS_CSP = csp_update({"style-src": [UNSAFE_INLINE], "worker-src": [SELF, "blob:"]})

urlpatterns = [
    path("v1/metrics/flow/", metrics.FlowMetricsView.as_view(), name="metrics-flow"),
    path("v1/metrics/flow/items/", metrics.FlowItemsView.as_view(), name="metrics-flow-items"),
    path("v1/metrics/alignment/", metrics.AlignmentView.as_view(), name="metrics-alignment"),
    path("v1/metrics/readiness/", metrics.ReadinessMetricsView.as_view(), name="metrics-readiness"),
    path("v1/metrics/forecast/", metrics.ForecastView.as_view(), name="metrics-forecast"),
    path("v1/metrics/delivery/", metrics.DeliveryMetricsView.as_view(), name="metrics-delivery"),
    path("v1/metrics/investment/", metrics.InvestmentView.as_view(), name="metrics-investment"),
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file: the CSP allows no inline
    # script. Swagger UI and Redoc set inline styles, allowed on these two pages only.
    path("docs/", DOCS_CSP(SpectacularSwaggerSplitView.as_view(url_name="api:schema")), name="docs"),
    path("redoc/", DOCS_CSP(SpectacularRedocView.as_view(url_name="api:schema")), name="redoc"),
]
