"""/readiness/: business-operations teams' pending checks, sign-off and proposals."""

from django.urls import path

from streams.readiness import views

app_name = "readiness"

urlpatterns = [
    path("", views.readiness, name="queue"),
    path("checks/<int:pk>/decide/", views.readiness_decide, name="decide"),
    path("checks/decide/", views.readiness_decide_many, name="decide-many"),
    path("criteria/", views.criteria, name="criteria"),
    path("criteria/new/", views.criterion_edit, name="criterion-add"),
    path("criteria/<int:pk>/edit/", views.criterion_edit, name="criterion-edit"),
]
