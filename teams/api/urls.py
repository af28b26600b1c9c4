"""The /api/v1/ resources of the teams app, in the order the API root lists them."""

from teams.api import views

ROUTES = [
    ("disciplines", views.DisciplineViewSet, "discipline"),
    ("people", views.PersonViewSet, "person"),
    ("teams", views.TeamViewSet, "team"),
    ("memberships", views.MembershipViewSet, "membership"),
]
