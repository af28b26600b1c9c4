"""URL configuration. Each app adds its own pages under its namespace."""

from django.contrib import admin
from django.urls import include, path

from portal.identity import views as identity
from portal.scenarios import views as scenarios
from streams.integrations import hooks

from . import tokens, views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz/", views.healthz, name="healthz"),
    path("leadership/", views.leadership_page, name="leadership"),
    path("teams/", views.teams_page, name="teams"),
    path("login/", identity.PortalLoginView.as_view(), name="login"),
    path("login/oidc/", identity.oidc_start, name="oidc-start"),
    path("login/oidc/callback/", identity.oidc_callback, name="oidc-callback"),
    path("logout/", identity.logout_view, name="logout"),
    path("items/<int:pk>/", views.item_detail, name="item-detail"),
    path("streams/<slug:slug>/health/", views.stream_health, name="stream-health"),
    path("investment/", views.investment_page, name="investment"),
    path("scenarios/", scenarios.scenario_list, name="scenario-list"),
    path("scenarios/new/", scenarios.scenario_new, name="scenario-new"),
    path("scenarios/<int:pk>/", scenarios.scenario_detail, name="scenario-detail"),
    path("scenarios/<int:pk>/delete/", scenarios.scenario_delete_view, name="scenario-delete"),
    path("streams/", include("streams.urls")),
    path("okrs/", include("okrs.urls")),
    path("readiness/", include("streams.readiness.urls")),
    path("imports/", include("streams.integrations.urls")),
    path("hooks/jira/", hooks.jira_hook, name="hook-jira"),
    path("hooks/github/", hooks.github_hook, name="hook-github"),
    path("notifications/", include("portal.notifications.urls")),
    path("api/tokens/", tokens.api_tokens, name="api-tokens"),
    path("api/tokens/<int:pk>/revoke/", tokens.api_token_revoke, name="api-token-revoke"),
    path("api/", include("portal.api.urls")),
    path("admin/", admin.site.urls),
]

handler404 = "core.api.errors.page_not_found"
handler500 = "core.api.errors.server_error"
