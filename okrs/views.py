"""OKR pages: the objective tree of a period, check-ins (htmx), and editing objectives and key results."""

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from teams import access
from teams.errors import DomainError

from .forms import CheckInForm, KeyResultForm, ObjectiveForm, PeriodForm
from .models import CheckIn, KeyResult, Objective
from .selectors import STALE_AFTER_DAYS, current_period, objective_tree, period_from
from .services import check_in_record, key_result_save, objective_save


def _list_url(period: str) -> str:
    return f"{reverse('okrs:objective-list')}?{urlencode({'period': period})}"


@require_http_methods(["GET"])
def objective_list(request: HttpRequest) -> HttpResponse:
    """The objective tree of a period with progress, confidence, check-ins and linked work."""
    period = current_period()
    form = PeriodForm(request.GET or None, initial={"period": period.label})
    if form.is_valid():
        try:
            period = period_from(form.cleaned_data["period"])
        except ValidationError as error:
            form.add_error("period", error)
    context = {
        "form": form,
        "period": period,
        "previous": period.previous(),
        "tree": objective_tree(user=request.user, period=period),
        "may_add": access.may(request.user, access.ADD, Objective),
        "stale_after": STALE_AFTER_DAYS,
    }
    return render(request, "okrs/objective_list.html", context)


def _objective_card(request, objective: Objective, *, period_label: str, form=None, open_kr=None) -> HttpResponse:
    """One objective's card (its key results and their check-in forms) for an htmx swap."""
    period = period_from(period_label)
    nodes = objective_tree(user=request.user, period=period, objective_id=objective.pk)
    return render(
        request,
        "okrs/partials/_objective.html",
        {
            "node": nodes[0],
            "period": period,
            "check_in_form": form,
            "open_kr": open_kr,
            "stale_after": STALE_AFTER_DAYS,
        },
    )


@require_http_methods(["GET", "POST"])
def check_in(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a check-in of a key result. htmx gets the objective's card back, progress updated."""
    key_result = get_object_or_404(KeyResult.objects.select_related("objective__team"), pk=pk)
    if not access.may(request.user, access.ADD, CheckIn(key_result=key_result)):
        raise PermissionDenied
    objective = key_result.objective
    period_label = request.GET.get("period") or request.POST.get("period") or objective.period
    form = CheckInForm(request.POST or None, initial={"value": key_result.current_value})
    if request.method == "POST" and form.is_valid():
        try:
            check_in_record(key_result=key_result, author=request.user, **form.cleaned_data)
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            if request.htmx:
                return _objective_card(request, objective, period_label=period_label)
            messages.success(request, f"Check-in of “{key_result.title}” recorded.")
            return redirect(_list_url(period_label))
    if request.htmx:
        return _objective_card(request, objective, period_label=period_label, form=form, open_kr=key_result.pk)
    return render(request, "okrs/check_in.html", {"form": form, "key_result": key_result, "period": period_label})


@require_http_methods(["GET", "POST"])
def objective_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    objective = get_object_or_404(Objective, pk=pk) if pk else Objective(period=current_period().label)
    action = access.CHANGE if pk else access.ADD
    if not access.may(request.user, action, objective if pk else Objective):
        raise PermissionDenied
    form = ObjectiveForm(request.POST or None, instance=objective)
    if request.method == "POST" and form.is_valid():
        candidate = form.save(commit=False)
        if not access.may(request.user, action, candidate):
            form.add_error(None, _scope_refusal(candidate))
        else:
            try:
                objective_save(objective=candidate)
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                messages.success(request, f"Objective “{candidate.title}” saved.")
                return redirect(_list_url(candidate.period))
    return render(request, "okrs/objective_form.html", {"form": form, "objective": objective if pk else None})


def _scope_refusal(objective: Objective) -> str:
    where = {
        Objective.Level.COMPANY: "company objectives (leaders set those)",
        Objective.Level.STREAM: "objectives of that value stream (its product director sets those)",
        Objective.Level.TEAM: "objectives of that team (its product owners and the directors it serves set those)",
    }[objective.level]
    return f"You may not set {where}."


@require_http_methods(["GET", "POST"])
def key_result_edit(request: HttpRequest, pk: int | None = None, objective_pk: int | None = None) -> HttpResponse:
    if pk:
        key_result = get_object_or_404(KeyResult.objects.select_related("objective__team"), pk=pk)
    else:
        key_result = KeyResult(objective=get_object_or_404(Objective.objects.select_related("team"), pk=objective_pk))
    if not access.may(request.user, access.CHANGE if pk else access.ADD, key_result):
        raise PermissionDenied
    form = KeyResultForm(request.POST or None, instance=key_result)
    if request.method == "POST" and form.is_valid():
        try:
            key_result_save(key_result=form.save(commit=False))
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, f"Key result “{key_result.title}” saved.")
            return redirect(_list_url(key_result.objective.period))
    return render(request, "okrs/key_result_form.html", {"form": form, "key_result": key_result})
