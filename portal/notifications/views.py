"""The notifications page (unread first), preferences, and the unsubscribe link of emails."""

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Paginator
from django.db.models import F, Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.notifications.models import CADENCE, DIGESTS, Channel, Delivery, Frequency, Kind, Notification
from portal.notifications.services import (
    UnsubscribeRefused,
    mark_read,
    preference_save,
    preferences_of,
    unsubscribe,
    unsubscribe_read,
)
from teams.models import Person

PAGE = 50


def _person(request: HttpRequest) -> Person | None:
    return Person.objects.filter(user=request.user).first()


@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    person = _person(request)
    rows = Notification.objects.none()
    if person is not None:
        rows = (
            Notification.objects.filter(recipient=person)
            .order_by(F("read_at").asc(nulls_first=True), "-created_at", "-pk")
            .prefetch_related(Prefetch("deliveries", queryset=Delivery.objects.order_by("pk")))
        )
    page = Paginator(rows, PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "portal/notifications.html",
        {"person": person, "page": page, "unread": sum(1 for n in page if n.read_at is None)},
    )


@require_POST
def read(request: HttpRequest) -> HttpResponse:
    person = _person(request)
    if person is not None:
        ids = [int(value) for value in request.POST.getlist("id") if value.isdigit()]
        marked = mark_read(person, ids or None)
        messages.success(request, f"{marked} notification{'s' if marked != 1 else ''} marked read.")
    return redirect("notifications:inbox")


@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    person = _person(request)
    errors = []
    if person is None and request.method == "POST":
        messages.info(request, "Your login is not linked to a person: there is nothing to set.")
        return redirect("notifications:preferences")
    if person is not None and request.method == "POST":
        for kind in Kind.values:
            if f"{kind}-channel" not in request.POST:
                continue  # a kind the form did not send stays as it is
            channel = request.POST.get(f"{kind}-channel", "")
            frequency = request.POST.get(f"{kind}-frequency", Frequency.DAILY)
            if channel not in Channel.values or frequency not in Frequency.values:
                errors.append(f"{Kind(kind).label}: choose one of the channels and frequencies offered.")
                continue
            preference_save(person=person, kind=kind, channel=channel, frequency=frequency)
        if not errors:
            messages.success(request, "Your notification preferences are saved.")
            return redirect("notifications:preferences")
    rows = []
    if person is not None:
        rows = [
            (Kind(kind), preference, kind in DIGESTS, CADENCE.get(kind, ""))
            for kind, preference in preferences_of(person).items()
        ]
    return render(
        request,
        "portal/notification_preferences.html",
        {
            "person": person,
            "rows": rows,
            "channels": Channel.choices,
            "frequencies": Frequency.choices,
            "errors": errors,
        },
        status=400 if errors else 200,
    )


@login_not_required
@csrf_exempt  # the signed token is the credential; mail clients' one-click POST (RFC 8058) carries no CSRF token
@require_http_methods(["GET", "POST"])
def unsubscribe_view(request: HttpRequest, token: str) -> HttpResponse:
    try:
        person, kind = unsubscribe_read(token)
    except UnsubscribeRefused as refused:
        return render(request, "portal/unsubscribe.html", {"error": str(refused)}, status=400)
    done = False
    if request.method == "POST":
        unsubscribe(token)
        done = True
    return render(request, "portal/unsubscribe.html", {"person": person, "kind": Kind(kind), "done": done})
