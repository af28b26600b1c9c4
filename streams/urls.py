from django.urls import path

from streams.backlog import views as backlog_views
from streams.delivery import views as delivery_views
from streams.experiments import views as experiment_views
from streams.flow import views as flow_views
from streams.integrations.connectors import views as connection_views
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
    # Live connections to the tool the stream's teams work in, and their syncs.
    path("<slug:slug>/connections/", connection_views.connections, name="connections"),
    path("<slug:slug>/connections/<int:pk>/", connection_views.connection_detail, name="connection"),
    path("<slug:slug>/connections/<int:pk>/test/", connection_views.connection_test, name="connection-test"),
    path("<slug:slug>/connections/<int:pk>/mapping/", connection_views.connection_mapping, name="connection-mapping"),
    path("<slug:slug>/connections/<int:pk>/sync/", connection_views.connection_sync_now, name="connection-sync"),
    path("<slug:slug>/connections/<int:pk>/pause/", connection_views.connection_pause, name="connection-pause"),
    # Improvement experiments and their verdicts.
    path("<slug:slug>/experiments/", experiment_views.stream_experiments, name="experiments"),
    path("<slug:slug>/experiments/<int:pk>/", experiment_views.experiment_detail, name="experiment-detail"),
]
