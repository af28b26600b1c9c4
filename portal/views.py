"""Cross-cutting pages: home and the health check."""

from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from streams.selectors import stream_list

STREAMS_PER_PAGE = 50


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Value streams with their director and teams; the leaders' portfolio page grows from here."""
    page = Paginator(stream_list(user=request.user), STREAMS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "portal/home.html", {"page": page, "streams": page.object_list})


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and database reachability, for load balancers in front of several gunicorns."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
