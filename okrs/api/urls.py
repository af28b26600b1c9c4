"""The /api/v1/ resources of the okrs app, in the order the API root lists them."""

from okrs.api import views

ROUTES = [
    ("objectives", views.ObjectiveViewSet, "objective"),
    ("key-results", views.KeyResultViewSet, "key-result"),
    ("key-result-links", views.KeyResultLinkViewSet, "key-result-link"),
    ("check-ins", views.CheckInViewSet, "check-in"),
]
