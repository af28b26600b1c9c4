"""/api/v1/ routes, the OpenAPI schema and its documentation (served from PyPI's sidecar, no CDN)."""

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from . import metrics, views

router = DefaultRouter()
router.register("disciplines", views.DisciplineViewSet, basename="discipline")
router.register("people", views.PersonViewSet, basename="person")
router.register("teams", views.TeamViewSet, basename="team")
router.register("memberships", views.MembershipViewSet, basename="membership")
router.register("streams", views.ValueStreamViewSet, basename="stream")
router.register("target-mixes", views.TargetMixViewSet, basename="target-mix")
router.register("leadership-assignments", views.LeadershipAssignmentViewSet, basename="leadership-assignment")
router.register("workflow-states", views.WorkflowStateViewSet, basename="workflow-state")
router.register("items", views.BacklogItemViewSet, basename="item")
router.register("transitions", views.StateTransitionViewSet, basename="transition")
router.register("blocked-periods", views.BlockedPeriodViewSet, basename="blocked-period")
router.register("dependencies", views.DependencyViewSet, basename="dependency")
router.register("readiness-criteria", views.ReadinessCriterionViewSet, basename="readiness-criterion")
router.register("readiness-checks", views.ReadinessCheckViewSet, basename="readiness-check")
router.register("maps", views.ValueStreamMapViewSet, basename="map")
router.register("process-blocks", views.ProcessBlockViewSet, basename="process-block")
router.register("deployments", views.DeploymentViewSet, basename="deployment")
router.register("incidents", views.IncidentViewSet, basename="incident")
router.register("experiments", views.ImprovementExperimentViewSet, basename="experiment")
router.register("objectives", views.ObjectiveViewSet, basename="objective")
router.register("key-results", views.KeyResultViewSet, basename="key-result")
router.register("key-result-links", views.KeyResultLinkViewSet, basename="key-result-link")
router.register("check-ins", views.CheckInViewSet, basename="check-in")

app_name = "api"
DOCS_CSP = csp_update({"style-src": [UNSAFE_INLINE], "worker-src": [SELF, "blob:"]})

urlpatterns = [
    path("v1/metrics/flow/", metrics.FlowMetricsView.as_view(), name="metrics-flow"),
    path("v1/metrics/flow/items/", metrics.FlowItemsView.as_view(), name="metrics-flow-items"),
    path("v1/metrics/alignment/", metrics.AlignmentView.as_view(), name="metrics-alignment"),
    path("v1/metrics/readiness/", metrics.ReadinessMetricsView.as_view(), name="metrics-readiness"),
    path("v1/metrics/forecast/", metrics.ForecastView.as_view(), name="metrics-forecast"),
    path("v1/metrics/delivery/", metrics.DeliveryMetricsView.as_view(), name="metrics-delivery"),
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file: the CSP allows no inline
    # script. Swagger UI and Redoc set inline styles, allowed on these two pages only.
    path("docs/", DOCS_CSP(SpectacularSwaggerSplitView.as_view(url_name="api:schema")), name="docs"),
    path("redoc/", DOCS_CSP(SpectacularRedocView.as_view(url_name="api:schema")), name="redoc"),
]
