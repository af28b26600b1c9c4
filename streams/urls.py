from django.urls import path

from . import views

app_name = "streams"

urlpatterns = [
    path("<slug:slug>/", views.stream_detail, name="stream-detail"),
]
