from django.urls import path

from . import views

app_name = "streams"

urlpatterns = [
    # Fixed paths first: "backlog" and "items" are not stream slugs.
    path("backlog/", views.backlog_home, name="backlog"),
    path("items/<int:pk>/move/", views.item_move, name="item-move"),
    path("<slug:slug>/", views.stream_detail, name="stream-detail"),
    path("<slug:slug>/backlog/", views.backlog, name="backlog-stream"),
    path("<slug:slug>/flow-items.csv", views.stream_flow_csv, name="stream-flow-csv"),
]
