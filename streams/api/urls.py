"""The /api/v1/ resources of the streams app, in the order the API root lists them."""

from streams.api import views

ROUTES = [
    ("streams", views.ValueStreamViewSet, "stream"),
    ("target-mixes", views.TargetMixViewSet, "target-mix"),
    ("leadership-assignments", views.LeadershipAssignmentViewSet, "leadership-assignment"),
    ("workflow-states", views.WorkflowStateViewSet, "workflow-state"),
    ("items", views.BacklogItemViewSet, "item"),
    ("transitions", views.StateTransitionViewSet, "transition"),
    ("blocked-periods", views.BlockedPeriodViewSet, "blocked-period"),
    ("dependencies", views.DependencyViewSet, "dependency"),
    ("readiness-criteria", views.ReadinessCriterionViewSet, "readiness-criterion"),
    ("readiness-checks", views.ReadinessCheckViewSet, "readiness-check"),
    ("maps", views.ValueStreamMapViewSet, "map"),
    ("process-blocks", views.ProcessBlockViewSet, "process-block"),
    ("deployments", views.DeploymentViewSet, "deployment"),
    ("incidents", views.IncidentViewSet, "incident"),
    ("experiments", views.ImprovementExperimentViewSet, "experiment"),
    ("connections", views.ConnectionViewSet, "connection"),
    ("sync-runs", views.SyncRunViewSet, "sync-run"),
]
