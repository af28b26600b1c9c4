"""OKR pages: the objective tree of a period, check-ins (htmx), and editing objectives and key results."""

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from core import access
from core.errors import DomainError, raise_if_denied
from streams.flow.engine import Scope
from streams.flow.periods import Period
from streams.models import BacklogItem, ValueStream
from teams.models import Person, Team

from .alignment import ORPHANS_LISTED, Alignment, alignment_report, alignment_stream_ids
from .forms import CheckInForm, KeyResultForm, ObjectiveForm, PeriodForm, TreeFilterForm
from .measures import DEFINITIONS
from .models import CheckIn, KeyResult, Measure, Objective
from .selectors import (
    LINKED_LISTED,
    LOW_CONFIDENCE,
    STALE_AFTER_DAYS,
    TREE_PAGE,
    current_period,
    item_key_results,
    item_search,
    key_result_direct_items,
    key_result_flow,
    key_result_search,
    objective_tree,
    period_elapsed,
    period_from,
    tree_counts,
    tree_page,
    with_rights,
    with_trends,
)
from .services import check_in_record, key_result_link, key_result_save, key_result_unlink, may_link, objective_save


def _list_url(period: str) -> str:
    return f"{reverse('okrs:objective-list')}?{urlencode({'period': period})}"


def _period_asked(request) -> tuple[PeriodForm, Period]:
    """The period the query string asks for (the current quarter by default), and its form
    carrying the error when the label is malformed."""
    period = current_period()
    form = PeriodForm(request.GET or None, initial={"period": period.label})
    if form.is_valid():
        try:
            period = period_from(form.cleaned_data["period"])
        except ValidationError as error:
            form.add_error("period", error)
    return form, period


@require_http_methods(["GET"])
def objective_list(request: HttpRequest) -> HttpResponse:
    """The objective tree of a period with progress, confidence, check-ins and linked work."""
    form, period = _period_asked(request)
    filters = TreeFilterForm(request.GET or None, period=period)
    tree_filter = filters.tree_filter()
    tree = objective_tree(user=request.user, period=period, tree_filter=tree_filter, trends=False, rights=False)
    shown, page = tree_page(tree, request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    me = Person.objects.filter(user=request.user).values_list("pk", flat=True).first()
    context = {
        "form": form,
        "filters": filters,
        "filtered": tree_filter.active,
        "period": period,
        "previous": period.previous(),
        "tree": with_rights(with_trends(shown), request.user),
        "page": page,
        "query": query.urlencode(),
        "tree_page_size": TREE_PAGE,
        "counts": tree_counts(tree),
        "elapsed": period_elapsed(period),
        "mine_url": f"?{urlencode({'period': period.label, 'owner': me})}" if me else "",
        "may_add": access.may(request.user, access.ADD, Objective),
        "stale_after": STALE_AFTER_DAYS,
        "low_confidence": LOW_CONFIDENCE,
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
            "expanded": True,
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
    measured = key_result.source == KeyResult.Source.MEASURED
    form = CheckInForm(request.POST or None, initial={"value": key_result.current_value}, measured=measured)
    if request.method == "POST" and form.is_valid():
        try:
            check_in_record(key_result=key_result, author=request.user, **({"value": None} | form.cleaned_data))
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            if request.htmx:
                return _objective_card(request, objective, period_label=period_label)
            messages.success(request, f"Check-in of “{key_result.title}” recorded.")
            return redirect(_list_url(period_label))
    if request.htmx:
        return _objective_card(request, objective, period_label=period_label, form=form, open_kr=key_result.pk)
    context = {"form": form, "key_result": key_result, "period": period_label}
    return render(request, "okrs/check_in.html", context)


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


# --- Linking work and key results, from either side --------------------------------------------


def _key_result_for_page(pk: int) -> KeyResult:
    return get_object_or_404(KeyResult.objects.select_related("objective__team", "objective__stream"), pk=pk)


def _item_for_page(pk: int) -> BacklogItem:
    return get_object_or_404(BacklogItem.objects.select_related("stream", "state", "parent", "team"), pk=pk)


def _key_result_links_context(request, key_result: KeyResult, *, every: bool = False) -> dict:
    """The linked items' table: the first LINKED_LISTED unless `every` is asked for (a key result
    can serve thousands; rendering them all was most of its page)."""
    linked = key_result_direct_items(key_result, limit=None if every else LINKED_LISTED)
    for item in linked:
        item.may_unlink = may_link(request.user, key_result=key_result, item=item)
    may_link_any = may_link_from_key_result(request.user, key_result)
    return {
        "key_result": key_result,
        "linked": linked,
        "linked_total": key_result.items.count(),
        "may_link_any": may_link_any,
    }


def _key_result_links(request, key_result: KeyResult, *, error: str = "", status: int = 200, undo=None) -> HttpResponse:
    context = _key_result_links_context(request, key_result) | {"link_error": error, "undo": undo}
    return render(request, "okrs/partials/_key_result_links.html", context, status=status)


def may_link_from_key_result(user, key_result: KeyResult) -> bool:
    """The key result's side offers every item to those who may change it, and to product
    owners (who may link the items of their own backlogs)."""
    return access.may(user, access.CHANGE, key_result) or access.may(user, access.CHANGE, BacklogItem)


@require_http_methods(["GET"])
def key_result_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A key result: its progress and check-ins, the work linked to it, and that work's flow."""
    key_result = _key_result_for_page(pk)
    period = period_from(key_result.objective.period)
    node = objective_tree(user=request.user, period=period, objective_id=key_result.objective_id)[0]
    row = next(row for row in node.key_results if row.key_result.pk == key_result.pk)
    context = {
        "key_result": key_result,
        "node": node,
        "row": row,
        "period": period,
        "check_ins": key_result.check_ins.select_related("author__person").order_by("-date", "-pk")[:20],
        "flow": key_result_flow(key_result, period),
        "stale_after": STALE_AFTER_DAYS,
        "link_error": "",
        "measured": key_result.source == KeyResult.Source.MEASURED,
        "measure_label": Measure(key_result.measure).label if key_result.measure else "",
        "measure_definition": DEFINITIONS.get(key_result.measure, ""),
        "latest_reading": key_result.check_ins.filter(system=True).order_by("-date", "-pk").first(),
    } | _key_result_links_context(request, key_result, every=request.GET.get("linked") == "all")
    return render(request, "okrs/key_result_detail.html", context)


@require_http_methods(["GET"])
def key_result_item_search(request: HttpRequest, pk: int) -> HttpResponse:
    """Search-as-you-type for items to link to the key result (an htmx fragment)."""
    key_result = _key_result_for_page(pk)
    query = request.GET.get("q", "")
    items = item_search(query, exclude_key_result=key_result)
    candidates = [(item, may_link(request.user, key_result=key_result, item=item)) for item in items]
    return render(
        request,
        "okrs/partials/_item_candidates.html",
        {"key_result": key_result, "candidates": candidates, "query": query},
    )


def _link_change(request, *, key_result: KeyResult, item: BacklogItem, link: bool) -> str:
    """Link or unlink; the error message when refused, else ''."""
    try:
        changed = (key_result_link if link else key_result_unlink)(key_result=key_result, item=item, actor=request.user)
    except DomainError as error:
        raise_if_denied(error)
        return error.message
    if changed and not request.htmx:
        verb = "linked to" if link else "unlinked from"
        messages.success(request, f"{item.key} {verb} “{key_result.title}”.")
    return ""


def _link_response(request, *, key_result, item, unlink: bool, missing: str, fragment, back: str) -> HttpResponse:
    """Link or unlink, then answer htmx with the side's links fragment (422 and the reason when
    refused) and a plain form post with a redirect and a message."""
    error = missing if key_result is None or item is None else ""
    if not error:
        error = _link_change(request, key_result=key_result, item=item, link=not unlink)
    # An unlink is one click: the answer offers to link again (undo) rather than asking first.
    undo = {"key_result": key_result, "item": item} if unlink and not error else None
    if request.htmx:
        return fragment(error=error, status=422 if error else 200, undo=undo)
    if error:
        messages.error(request, error)
    elif undo:
        messages.success(request, f"{item.key} no longer serves “{key_result.title}”. Link it again to undo.")
    return redirect(back)


def _by_pk(queryset, value):
    """The row with that id, or None when the id is malformed or gone (the caller says so)."""
    return queryset.filter(pk=value).first() if str(value).isdigit() else None


@require_http_methods(["POST"])
def key_result_link_item(request: HttpRequest, pk: int, item_pk: int | None = None) -> HttpResponse:
    """Link (POST item=<id>) or, with an item in the URL, unlink work from the key result side."""
    key_result = _key_result_for_page(pk)
    item = _by_pk(BacklogItem.objects.select_related("state"), item_pk or request.POST.get("item", ""))
    return _link_response(
        request,
        key_result=key_result,
        item=item,
        unlink=item_pk is not None,
        missing="Choose an item to link: that item does not exist (it may have been deleted).",
        fragment=lambda **kw: _key_result_links(request, key_result, **kw),
        back=reverse("okrs:key-result-detail", args=[key_result.pk]),
    )


def item_links_context(request, item: BacklogItem) -> dict:
    links = item_key_results(item)
    for link in links:
        link.may_unlink = link.via is None and may_link(request.user, key_result=link.key_result, item=item)
    may_link_any = access.may(request.user, access.CHANGE, item) or access.may(request.user, access.CHANGE, KeyResult)
    return {"item": item, "links": links, "may_link_any": may_link_any}


def _item_links(request, item: BacklogItem, *, error: str = "", status: int = 200, undo=None) -> HttpResponse:
    context = item_links_context(request, item) | {"link_error": error, "undo": undo}
    return render(request, "okrs/partials/_item_links.html", context, status=status)


@require_http_methods(["GET"])
def item_outcomes(request: HttpRequest, pk: int) -> HttpResponse:
    """The key results an item serves are a section of the item page now; old links land there."""
    item = _item_for_page(pk)
    return redirect(item.get_absolute_url() + "#item-links")


@require_http_methods(["GET"])
def item_key_result_search(request: HttpRequest, pk: int) -> HttpResponse:
    """Search-as-you-type for key results of open periods to link the item to (an htmx fragment)."""
    item = _item_for_page(pk)
    query = request.GET.get("q", "")
    key_results = key_result_search(query, exclude_item=item)
    candidates = [(kr, may_link(request.user, key_result=kr, item=item)) for kr in key_results]
    return render(
        request,
        "okrs/partials/_key_result_candidates.html",
        {"item": item, "candidates": candidates, "query": query},
    )


@require_http_methods(["POST"])
def item_link_key_result(request: HttpRequest, pk: int, key_result_pk: int | None = None) -> HttpResponse:
    """Link (POST key_result=<id>) or, with a key result in the URL, unlink from the item side."""
    item = _item_for_page(pk)
    key_results = KeyResult.objects.select_related("objective__team")
    return _link_response(
        request,
        key_result=_by_pk(key_results, key_result_pk or request.POST.get("key_result", "")),
        item=item,
        unlink=key_result_pk is not None,
        missing="Choose a key result to link: that key result does not exist (it may have been deleted).",
        fragment=lambda **kw: _item_links(request, item, **kw),
        back=item.get_absolute_url(),
    )


# --- Alignment ------------------------------------------------------------------------------------


def scope_asked(request) -> tuple[object | None]:
    """The scope the query string names (?stream=slug, ?team=slug, ?director=person id); 404 if unknown."""
    if slug := request.GET.get("stream"):
        stream = get_object_or_404(ValueStream, slug=slug)
        return Scope.stream(stream), stream
    if slug := request.GET.get("team"):
        team = get_object_or_404(Team, slug=slug)
        return Scope.team(team), team
    if (person_id := request.GET.get("director", "")) and person_id.isdigit():
        person = get_object_or_404(Person, pk=person_id)
        return Scope.director(person), person
    return Scope.portfolio(), None


@require_http_methods(["GET"])
def alignment(request: HttpRequest) -> HttpResponse:
    """Whether the work in flight serves the period's outcomes: aligned shares, orphan work,
    unsupported key results and team objectives without a parent, for any scope."""
    scope, subject = scope_asked(request)
    form, period = _period_asked(request)
    report = alignment_report(scope, period)
    streams = ValueStream.objects.filter(pk__in=alignment_stream_ids(scope, report)).order_by("name")
    rows = [(stream, report.by_stream.get(stream.pk, Alignment())) for stream in streams.only("pk", "name", "slug")]
    context = {
        "form": form,
        "period": period,
        "report": report,
        "rows": rows,
        "subject": subject,
        "orphans_listed": ORPHANS_LISTED,
    }
    return render(request, "okrs/alignment.html", context)
