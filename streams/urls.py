from django.urls import path

from . import views

app_name = "streams"

urlpatterns = [
    path("<slug:slug>/", views.stream_detail, name="stream-detail"),
    path("<slug:slug>/flow-items.csv", views.stream_flow_csv, name="stream-flow-csv"),
]
