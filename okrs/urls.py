from django.urls import path

from . import views

app_name = "okrs"

urlpatterns = [
    path("", views.objective_list, name="objective-list"),
    path("objectives/new/", views.objective_edit, name="objective-create"),
    path("objectives/<int:pk>/edit/", views.objective_edit, name="objective-edit"),
    path("objectives/<int:objective_pk>/key-results/new/", views.key_result_edit, name="key-result-create"),
    path("key-results/<int:pk>/edit/", views.key_result_edit, name="key-result-edit"),
    path("key-results/<int:pk>/check-in/", views.check_in, name="check-in"),
]
