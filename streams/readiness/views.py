"""Readiness pages: each owner team's queue with sign-off, and the criteria."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from core import access
from core.errors import DomainError, raise_if_denied
from streams.backlog.services import item_create
from streams.models import (
    ReadinessCheck,
    ReadinessCriterion,
    ValueStream,
)
from streams.readiness.forms import ProposalForm, ReadinessCriterionForm, SignOffForm
from streams.readiness.selectors import (
    READINESS_WINDOW_DAYS,
    OwnerTeamReadiness,
    criterion_lead_times,
    readiness_by_owner_team,
    readiness_queue,
)
from streams.readiness.services import criterion_save, may_sign_off, readiness_check_decide
from streams.rules import scope_of
from teams.models import Team

QUEUE_PAGE_SIZE = 50


def _owner_team(request, teams: list[OwnerTeamReadiness]) -> OwnerTeamReadiness | None:
    """The team asked for (`?team=slug`), else the user's own, else the one with most pending."""
    slug = request.GET.get("team")
    if slug:
        for row in teams:
            if row.team.slug == slug:
                return row
        raise Http404("No business-operations team with that name owns readiness criteria.")
    mine = scope_of(request.user).team_ids
    return next((row for row in teams if row.team.pk in mine), None) or max(
        teams, key=lambda row: row.pending, default=None
    )


def _may_propose(user, team: Team) -> bool:
    return user.is_superuser or team.pk in scope_of(user).team_ids


@require_http_methods(["GET", "POST"])
def readiness(request: HttpRequest) -> HttpResponse:
    """Each business-operations team's pending checks across all streams, with sign-off, the
    lead time of its sign-offs, and improvement ideas it proposes into streams' backlogs."""
    teams = readiness_by_owner_team()
    selected = _owner_team(request, teams)
    proposal = None
    if selected is not None and _may_propose(request.user, selected.team):
        proposal = ProposalForm(request.POST or None, prefix="propose")
        if request.method == "POST" and proposal.is_valid():
            data = proposal.cleaned_data
            try:
                item = item_create(
                    stream_id=data["stream"].pk,
                    title=data["title"],
                    description=data["description"],
                    flow_type=data["flow_type"],
                    customer_facing=data["customer_facing"],
                    proposed_by=selected.team,
                    actor=request.user,
                )
            except DomainError as error:
                proposal.add_error(error.field if error.field in proposal.fields else None, error.message)
            else:
                messages.success(
                    request,
                    f"{item.key} “{item.title}” is in {data['stream'].name}'s backlog, marked as proposed by "
                    f"{selected.team.name}; its product owners see it there.",
                )
                return redirect(f"{reverse('readiness:queue')}?team={selected.team.slug}")
    elif request.method == "POST":
        raise PermissionDenied("Only members of the team may propose improvements in its name.")
    queue = None
    if selected is not None:
        queue = Paginator(readiness_queue(selected.team), QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [_queue_row(request.user, check) for check in queue] if queue else []
    context = {
        "teams": teams,
        "selected": selected,
        "queue": queue,
        "rows": rows,
        "may_sign_off_any": any(row["may_sign_off"] for row in rows),
        "bulk_form": SignOffForm(prefix="bulk"),
        "lead_times": criterion_lead_times(selected.team) if selected else [],
        "proposal": proposal,
        "window_days": READINESS_WINDOW_DAYS,
        "now": timezone.now(),
    }
    status = 422 if proposal is not None and proposal.errors else 200
    return render(request, "streams/readiness.html", context, status=status)


def _queue_row(user, check: ReadinessCheck, form: SignOffForm | None = None, error: str = "") -> dict:
    may = may_sign_off(user, check)
    return {"check": check, "may_sign_off": may, "form": form or (SignOffForm() if may else None), "error": error}


@require_http_methods(["POST"])
def readiness_decide(request: HttpRequest, pk: int) -> HttpResponse:
    """Sign off one check (htmx: the row comes back decided, or with the reason it was refused)."""
    check = get_object_or_404(
        ReadinessCheck.objects.select_related("criterion__owner_team", "item__stream", "item__state"), pk=pk
    )
    form = SignOffForm(request.POST, prefix=f"check-{check.pk}")
    error = ""
    if form.is_valid():
        try:
            readiness_check_decide(
                check=check, status=form.cleaned_data["status"], reason=form.cleaned_data["reason"], actor=request.user
            )
        except DomainError as refused:
            raise_if_denied(refused)
            error = refused.message
            if refused.field in form.fields:
                form.add_error(refused.field, refused.message)
    else:
        error = "; ".join(message for messages_ in form.errors.values() for message in messages_)
    if request.htmx:
        row = _queue_row(request.user, check, form=form if error else None, error=error)
        now = timezone.now()
        html = render_to_string(
            "streams/partials/_readiness_row.html",
            {"row": row, "now": now, "may_sign_off_any": row["may_sign_off"]},
            request=request,
        )
        if not error:  # the team's counts in the summary table follow, out of band
            team_id = check.criterion.owner_team_id
            team = next((t for t in readiness_by_owner_team(now) if t.team.pk == team_id), None)
            if team is not None:
                html += render_to_string(
                    "streams/partials/_readiness_team_row.html",
                    {"row": team, "selected": team, "oob": True},
                    request=request,
                )
        return HttpResponse(html, status=422 if error else 200)
    if error:
        messages.error(request, f"{check.criterion.name} for {check.item.key}: {error}")
    else:
        messages.success(request, f"{check.criterion.name} for {check.item.key}: {check.get_status_display().lower()}.")
    return redirect(f"{reverse('readiness:queue')}?team={check.criterion.owner_team.slug}")


BULK_MAX = 200  # checks decided in one request at most (a page of the queue is 50)


@require_http_methods(["POST"])
def readiness_decide_many(request: HttpRequest) -> HttpResponse:
    """Sign off the checks ticked in the queue with one decision: each through the same service as
    a single sign-off, in the order shown, stopping at the first refusal with its reason (those
    before it stay decided; those after it stay pending)."""
    form = SignOffForm(request.POST, prefix="bulk")
    ids = [int(value) for value in request.POST.getlist("checks") if value.isdigit()][:BULK_MAX]
    team = request.POST.get("team", "")
    back = f"{reverse('readiness:queue')}?team={team}" if team else reverse("readiness:queue")
    if not ids:
        messages.error(request, "Tick the checks to sign off first.")
        return redirect(back)
    if not form.is_valid():
        messages.error(request, "; ".join(m for errors in form.errors.values() for m in errors))
        return redirect(back)
    checks = ReadinessCheck.objects.select_related("criterion__owner_team", "item__stream", "item__state")
    by_id = {check.pk: check for check in checks.filter(pk__in=ids)}
    done = 0
    for pk in ids:
        check = by_id.get(pk)
        if check is None:
            messages.error(request, f"Signed off {done} of {len(ids)}: check {pk} no longer exists; the rest are left.")
            return redirect(back)
        try:
            readiness_check_decide(
                check=check, status=form.cleaned_data["status"], reason=form.cleaned_data["reason"], actor=request.user
            )
        except DomainError as refused:
            messages.error(
                request,
                f"Signed off {done} of {len(ids)}: {check.criterion.name} for {check.item.key} was refused: "
                f"{refused.message} The rest are left pending.",
            )
            return redirect(back)
        done += 1
    decision = dict(form.fields["status"].choices)[form.cleaned_data["status"]].lower()
    messages.success(request, f"{done} check{'s' * (done != 1)} signed off as {decision}.")
    return redirect(back)


@require_GET
def criteria(request: HttpRequest) -> HttpResponse:
    """Every readiness criterion by owner team: what it applies to, and who may change it."""
    rows = ReadinessCriterion.objects.select_related("owner_team").prefetch_related(
        Prefetch("streams", queryset=ValueStream.objects.only("pk", "name", "slug").order_by("name"))
    )
    context = {
        "criteria": [(criterion, access.may(request.user, access.CHANGE, criterion)) for criterion in rows],
        "may_add": access.may(request.user, access.ADD, ReadinessCriterion),
    }
    return render(request, "streams/criteria.html", context)


@require_http_methods(["GET", "POST"])
def criterion_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Create or change a criterion; the checks of open work follow it."""
    criterion = get_object_or_404(ReadinessCriterion, pk=pk) if pk else ReadinessCriterion()
    if pk and not access.may(request.user, access.CHANGE, criterion):
        raise PermissionDenied("Only operations members of the owning team may change this criterion.")
    if not pk and not access.may(request.user, access.ADD, ReadinessCriterion):
        raise PermissionDenied("Only operations members of a business-operations team may add readiness criteria.")
    form = ReadinessCriterionForm(request.POST or None, instance=criterion, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            created, dropped = criterion_save(
                criterion=form.save(commit=False), streams=form.cleaned_data["streams"], actor=request.user
            )
        except DomainError as error:
            raise_if_denied(error)
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(
                request,
                f"“{criterion.name}” saved: {created} open item{'s' if created != 1 else ''} now "
                f"need{'s' if created == 1 else ''} its sign-off; {dropped} pending check"
                f"{'s' if dropped != 1 else ''} no longer apply.",
            )
            return redirect("readiness:criteria")
    status = 422 if form.errors else 200
    return render(request, "streams/criterion_form.html", {"form": form, "criterion": criterion}, status=status)
