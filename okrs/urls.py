from django.urls import path

from . import views

app_name = "okrs"

urlpatterns = [
    path("", views.objective_list, name="objective-list"),
    path("alignment/", views.alignment, name="alignment"),
    path("objectives/new/", views.objective_edit, name="objective-create"),
    path("objectives/<int:pk>/edit/", views.objective_edit, name="objective-edit"),
    path("objectives/<int:objective_pk>/key-results/new/", views.key_result_edit, name="key-result-create"),
    path("key-results/<int:pk>/edit/", views.key_result_edit, name="key-result-edit"),
    path("key-results/<int:pk>/check-in/", views.check_in, name="check-in"),
    path("key-results/<int:pk>/", views.key_result_detail, name="key-result-detail"),
    path("key-results/<int:pk>/items/", views.key_result_item_search, name="key-result-item-search"),
    path("key-results/<int:pk>/links/", views.key_result_link_item, name="key-result-link"),
    path("key-results/<int:pk>/links/<int:item_pk>/delete/", views.key_result_link_item, name="key-result-unlink"),
    path("items/<int:pk>/", views.item_outcomes, name="item-outcomes"),
    path("items/<int:pk>/key-results/", views.item_key_result_search, name="item-key-result-search"),
    path("items/<int:pk>/links/", views.item_link_key_result, name="item-link"),
    path("items/<int:pk>/links/<int:key_result_pk>/delete/", views.item_link_key_result, name="item-unlink"),
]
