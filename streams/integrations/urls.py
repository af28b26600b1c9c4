from django.urls import path

from streams.integrations import views as import_views

app_name = "imports"

urlpatterns = [
    path("", import_views.imports, name="list"),
    path("<int:pk>/", import_views.import_job, name="job"),
    path("<int:pk>/retry/", import_views.import_job_retry_view, name="retry"),
]
