from django.urls import path

from streams.backlog import views as backlog_views
from streams.delivery import views as delivery_views
from streams.experiments import views as experiment_views
from streams.flow import views as flow_views
from streams.maps import views as map_views

app_name = "streams"

urlpatterns = [
    # Fixed paths first: "backlog", "items" and "maps" are not stream slugs.
    path("backlog/", backlog_views.backlog_home, name="backlog"),
    path("items/<int:pk>/move/", backlog_views.item_move, name="item-move"),
    path("maps/", map_views.maps_home, name="maps"),
    path("<slug:slug>/", flow_views.stream_detail, name="stream-detail"),
    path("<slug:slug>/backlog/", backlog_views.backlog, name="backlog-stream"),
    path("<slug:slug>/flow-items.csv", flow_views.stream_flow_csv, name="stream-flow-csv"),
    path("<slug:slug>/cumulative-flow.csv", flow_views.stream_cfd_csv, name="stream-cfd-csv"),
    path("<slug:slug>/delivery/", delivery_views.stream_delivery, name="delivery"),
    # Value stream maps: drawn, compared and measured; activities edited in place.
    path("<slug:slug>/maps/", map_views.stream_maps, name="stream-maps"),
    path("<slug:slug>/maps/<int:pk>/", map_views.map_detail, name="map-detail"),
    path("<slug:slug>/maps/<int:pk>/blocks/", map_views.block_add, name="block-add"),
    path("<slug:slug>/maps/<int:pk>/blocks/<int:block_pk>/", map_views.block_edit, name="block-edit"),
    path("<slug:slug>/maps/<int:pk>/blocks/<int:block_pk>/move/", map_views.block_reorder, name="block-move"),
    path("<slug:slug>/maps/<int:pk>/blocks/<int:block_pk>/delete/", map_views.block_remove, name="block-delete"),
    # Improvement experiments and their verdicts.
    path("<slug:slug>/experiments/", experiment_views.stream_experiments, name="experiments"),
    path("<slug:slug>/experiments/<int:pk>/", experiment_views.experiment_detail, name="experiment-detail"),
]
