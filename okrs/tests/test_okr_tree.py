"""The OKR tree is written in Python (`okrs.templatetags.okr_tree`): each objective's card and
each key result's row must be what `_objective.html` wrote before, escaping included, whatever
the data. The former template is kept here as the reference."""

import datetime as dt
from decimal import Decimal
import re

from django import forms
from django.template import Context, Engine, Template
from django.utils import timezone
import pytest

from okrs.forms import CheckInForm, ListSelect
from okrs.models import KeyResult, Measure, Objective
from okrs.selectors import KeyResultRow, ObjectiveNode, period_from
from okrs.templatetags.okr_tree import key_result_row
from okrs.tests.factories import KeyResultFactory, ObjectiveFactory
from streams.tests.factories import ValueStreamFactory
from teams.tests.factories import PersonFactory

PERIOD = period_from(None)
TODAY = timezone.localdate()

# `_objective.html` as it was, in full: the reference the Python card and rows must match.
FORMER_CARD = """{% load humanize_okrs okr_drawing links %}
<article class="card objective{% if node.context %} context{% endif %}" id="objective-{{ node.objective.pk }}" aria-labelledby="objective-{{ node.objective.pk }}-title">
  <details class="objective-body"{% if expanded or filtered and not node.context %} open{% endif %}>
  <summary class="objective-head">
    <h2 id="objective-{{ node.objective.pk }}-title">{{ node.objective.title }}</h2>
    <span class="objective-tags">
      <span class="tag">{{ node.objective.get_level_display }}{% if node.objective.stream %}: {{ node.objective.stream.name }}{% elif node.objective.team %}: {{ node.objective.team.name }}{% endif %}</span>
      <span class="tag">{{ node.objective.period }}</span>
      {% if node.context %}<span class="tag">above a match</span>{% endif %}
    </span>
    <span class="objective-figures">
      <span class="figure">{% progress_bar node.progress node.elapsed %} <strong data-testid="objective-progress">{{ node.progress|percent }}</strong></span>
      <span class="figure">Confidence {% confidence_badge node.confidence %}</span>
      <span class="figure muted">{{ node.key_results|length }} key result{{ node.key_results|length|pluralize }}{% if node.stale %} <span class="tag warn">stale</span>{% endif %}</span>
    </span>
  </summary>
  <p class="muted objective-meta">Owner: {{ node.objective.owner.name|default:"—" }}
    {% if node.objective.description %}· {{ node.objective.description|truncatechars:160 }}{% endif %}
    {% if node.may_change %} · <a href="{% link 'okrs:objective-edit' node.objective.pk %}">Edit</a>
      · <a href="{% link 'okrs:key-result-create' node.objective.pk %}">Add key result</a>{% endif %}</p>
  {% if node.key_results %}
  <table class="data key-results">
    <caption class="visually-hidden">Key results of {{ node.objective.title }}</caption>
    <thead><tr>
      <th scope="col">Key result</th><th scope="col">Progress</th><th scope="col">Confidence</th>
      <th scope="col">Trend</th><th scope="col">Last check-in</th><th scope="col">Linked work</th>
      <th scope="col"><span class="visually-hidden">Actions</span></th>
    </tr></thead>
    <tbody>
    {% for row in node.key_results %}
      <tr id="key-result-{{ row.key_result.pk }}">
        <th scope="row"><a href="{% link 'okrs:key-result-detail' row.key_result.pk %}">{{ row.key_result.title }}</a>
          <span class="tag">{{ row.key_result.get_kind_display }}</span>
          {% if row.key_result.source == "measured" %}<span class="tag pass" title="{{ row.key_result.get_measure_display }}">measured</span>{% endif %}
          <span class="small muted">{% if row.owner %}{{ row.owner.name }}{% else %}no owner{% endif %}</span></th>
        <td class="nowrap">{% progress_bar row.progress node.elapsed %} <strong data-testid="kr-progress">{{ row.progress|percent }}</strong>
          <span class="small muted">{{ row.key_result.start_value|decimal2 }} → <strong>{{ row.key_result.current_value|decimal2 }}</strong> → {{ row.key_result.target_value|decimal2 }} {{ row.key_result.unit }}</span></td>
        <td class="nowrap">{% confidence_badge row.confidence %}</td>
        <td>{% kr_trend row.trend row.key_result.start_value row.key_result.target_value node.period row.key_result.unit %}</td>
        <td class="nowrap">{{ row.last_check_in|date:"j M Y"|default:"never" }}{% if row.stale %} <span class="tag warn">stale</span>{% endif %}</td>
        <td class="nowrap">{{ row.wip }} in progress<span class="small muted">{{ row.finished }} finished in {{ period.label }}</span></td>
        <td class="nowrap">{% if row.may_check_in %}
          <a href="{% link 'okrs:check-in' row.key_result.pk %}?period={{ period.label }}"
             hx-get="{% link 'okrs:check-in' row.key_result.pk %}?period={{ period.label }}"
             hx-target="#objective-{{ node.objective.pk }}" hx-swap="outerHTML">Check in</a>
          {% if node.may_change %} · <a href="{% link 'okrs:key-result-edit' row.key_result.pk %}">Edit</a>{% endif %}
        {% endif %}</td>
      </tr>
      {% if open_kr == row.key_result.pk %}
      <tr><td colspan="7">
        <form class="check-in" method="post" action="{% link 'okrs:check-in' row.key_result.pk %}"
              hx-post="{% link 'okrs:check-in' row.key_result.pk %}" hx-target="#objective-{{ node.objective.pk }}" hx-swap="outerHTML">
          {% csrf_token %}<input type="hidden" name="period" value="{{ period.label }}">
          <fieldset><legend>Check in: {{ row.key_result.title }}</legend>
            {% include "includes/_form_fields.html" with form=check_in_form %}
            <button type="submit" class="primary">Record check-in</button>
            <a href="{% link 'okrs:objective-list' %}?period={{ period.label }}">Cancel</a>
          </fieldset>
        </form>
      </td></tr>
      {% endif %}
    {% endfor %}
    </tbody>
  </table>
  {% else %}
  <p class="empty">No key results yet.</p>
  {% endif %}
  </details>
</article>
{% if node.children %}
<details class="okr-children" open>
  <summary>{{ node.children|length }} objective{{ node.children|length|pluralize }} aligned to “{{ node.objective.title }}”</summary>
  <ol class="okr-tree">
    {% for child in node.children %}<li>{% include "card.html" with node=child %}</li>{% endfor %}
  </ol>
</details>
{% endif %}
"""  # noqa: E501
FORMER_ROW = FORMER_CARD[FORMER_CARD.index('      <tr id="key-result-') : FORMER_CARD.index("      {% if open_kr ==")]
DEFAULT = Engine.get_default()
FORMER = Engine(
    dirs=DEFAULT.dirs,
    loaders=[("django.template.loaders.locmem.Loader", {"card.html": FORMER_CARD}), *DEFAULT.loaders],
    libraries=DEFAULT.libraries,
    builtins=[name for name in DEFAULT.builtins if name not in Engine.default_builtins],
)
TEMPLATE_ROW = FORMER.from_string("{% load humanize_okrs okr_drawing links %}" + FORMER_ROW)
NEW_CARD = Template("{% load okr_tree %}{% objective_card node %}")


def squeezed(html: str) -> str:
    """Runs of white space as one space: the template's line breaks and indents are not markup."""
    return re.sub(r"\s+", " ", str(html)).strip()


def row_and_node(*, may_check_in=True, may_change=True, trend=None, **kr_fields):
    objective = ObjectiveFactory.build(pk=7, period=PERIOD.label, owner=None)
    fields = {"pk": 31, "objective": objective, "title": "Cut refunds", "unit": "%", "owner": None} | kr_fields
    kr = KeyResultFactory.build(**fields)
    if trend is None:
        trend = [(PERIOD.start + dt.timedelta(days=3), Decimal("12.5")), (TODAY, Decimal("40"))]
    row = KeyResultRow(
        key_result=kr,
        progress=0.4,
        confidence=0.65,
        last_check_in=TODAY - dt.timedelta(days=3),
        stale=False,
        wip=3,
        finished=12,
        may_check_in=may_check_in,
        trend=trend,
    )
    node = ObjectiveNode(objective, key_results=[row], may_change=may_change)
    return row, node


def rendered(row, node) -> tuple[str, str]:
    """(the Python row, the template's row), each squeezed."""
    by_template = TEMPLATE_ROW.render(Context({"row": row, "node": node, "period": PERIOD}))
    return squeezed(key_result_row(row, node, PERIOD)), squeezed(by_template)


def test_a_row_with_check_ins_is_what_the_template_wrote():
    row, node = row_and_node()
    ours, template = rendered(row, node)
    assert ours == template
    assert ours.startswith('<tr id="key-result-31"> <th scope="row"><a href="/okrs/key-results/31/">Cut refunds</a>')
    assert '<svg class="kr-trend" role="img"' in ours and "65% · medium" in ours
    checked = row.last_check_in
    assert f'<td class="nowrap">{checked.day} {checked:%b} {checked.year}</td>' in ours and "stale" not in ours
    assert '3 in progress<span class="small muted">12 finished in ' + PERIOD.label in ours


def test_titles_names_and_units_are_escaped():
    owner = PersonFactory.build(name="Ana <b>&</b>")
    row, node = row_and_node(title="<script>alert(1)</script>", unit='<i>"€"</i>', owner=owner)
    ours, template = rendered(row, node)
    assert ours == template
    assert "<script>" not in ours and "&lt;script&gt;alert(1)&lt;/script&gt;" in ours
    assert "Ana &lt;b&gt;&amp;&lt;/b&gt;" in ours and "<i>" not in ours
    assert "&lt;i&gt;&quot;€&quot;&lt;/i&gt;" in ours  # beside the values and in the trend's label


def test_a_key_result_without_check_ins_says_never_and_stale():
    row, node = row_and_node(trend=[])
    row.last_check_in, row.stale, row.confidence = None, True, None
    ours, template = rendered(row, node)
    assert ours == template
    assert '<td class="nowrap">never <span class="tag warn">stale</span></td>' in ours
    assert "no check-ins yet" in ours and 'title="no check-in yet">—' in ours


def test_a_measured_key_result_is_tagged_with_its_measure():
    row, node = row_and_node(source=KeyResult.Source.MEASURED, measure=Measure.FLOW_TIME_P85)
    ours, template = rendered(row, node)
    assert ours == template
    assert '<span class="tag pass" title="Flow time, 85th percentile (days)">measured</span>' in ours


@pytest.mark.parametrize(("may_check_in", "may_change"), [(True, True), (True, False), (False, False)])
def test_check_in_and_edit_links_follow_the_users_rights(may_check_in, may_change):
    row, node = row_and_node(may_check_in=may_check_in, may_change=may_change)
    ours, template = rendered(row, node)
    assert ours == template
    check_in = f'<a href="/okrs/key-results/31/check-in/?period={PERIOD.label}" hx-get='
    assert (check_in in ours) is may_check_in
    assert ('hx-target="#objective-7"' in ours) is may_check_in
    assert ('<a href="/okrs/key-results/31/edit/">Edit</a>' in ours) is (may_check_in and may_change)
    if not may_check_in:
        assert ours.endswith('<td class="nowrap"></td> </tr>')


def objective_node(pk: int, *, children=(), key_results=1, may_change=True, context=False, **fields) -> ObjectiveNode:
    objective = ObjectiveFactory.build(**({"pk": pk, "period": PERIOD.label, "owner": None} | fields))
    node = ObjectiveNode(objective, may_change=may_change, context=context, children=list(children))
    for n in range(key_results):
        row, _ = row_and_node(pk=100 * pk + n, objective=objective, title=f"Key result {pk}.{n}")
        node.key_results.append(row)
    return node


def cards(node, **context) -> tuple[str, str]:
    """(the Python card, the former template's card), each squeezed."""
    context = {"node": node, "period": PERIOD} | context
    by_template = FORMER.get_template("card.html").render(Context(context))
    return squeezed(NEW_CARD.render(Context(context))), squeezed(by_template)


def test_a_card_with_its_aligned_objectives_is_what_the_template_wrote():
    team_objective = objective_node(3, key_results=3, level=Objective.Level.TEAM, description="")
    stream = ValueStreamFactory.build(name="Payments <EU>")
    stream_objective = objective_node(2, children=[team_objective], level=Objective.Level.STREAM, stream=stream)
    long = "Why: " + "<b>customers & merchants</b> " * 10
    root = objective_node(
        1, children=[stream_objective], title="Grow <script>x</script>", description=long, owner=PersonFactory.build()
    )
    ours, template = cards(root)
    assert ours == template
    assert ours.count("<article ") == 3 and ours.count('<details class="okr-children" open>') == 2
    assert "Grow &lt;script&gt;x&lt;/script&gt;" in ours and "<script>" not in ours
    assert "aligned to “Grow &lt;script&gt;x&lt;/script&gt;”" in ours
    assert '<span class="tag">Value stream: Payments &lt;EU&gt;</span>' in ours
    assert "&lt;b&gt;customers &amp; merchants&lt;/b&gt;" in ours and "…" in ours  # truncated at 160 characters
    assert '<details class="objective-body">' in ours and " open>" not in ours.split("okr-children")[0]


@pytest.mark.parametrize(
    ("context", "filtered", "expanded", "opened"),
    [(False, False, False, False), (False, True, False, True), (True, True, False, False), (True, False, True, True)],
)
def test_a_card_opens_when_expanded_or_matching_a_filter(context, filtered, expanded, opened):
    node = objective_node(4, context=context)
    ours, template = cards(node, filtered=filtered, expanded=expanded)
    assert ours == template
    assert ('<details class="objective-body" open>' in ours) is opened
    assert ('<span class="tag">above a match</span>' in ours) is context
    assert ('class="card objective context"' in ours) is context


@pytest.mark.parametrize("may_change", [True, False])
def test_a_card_without_key_results_and_its_edit_links(may_change):
    node = objective_node(5, key_results=0, may_change=may_change)
    ours, template = cards(node)
    assert ours == template
    assert '<p class="empty">No key results yet.</p>' in ours and "0 key results" in ours
    assert ('<a href="/okrs/objectives/5/edit/">Edit</a>' in ours) is may_change
    assert "Owner: — <" in ours or "Owner: — ·" in ours


def test_the_open_check_in_form_sits_under_its_key_result():
    node = objective_node(6, key_results=2)
    opened = node.key_results[1].key_result
    context = {"open_kr": opened.pk, "check_in_form": CheckInForm(), "csrf_token": "token", "expanded": True}
    ours, template = cards(node, **context)
    assert ours == template
    assert ours.count('<form class="check-in"') == 1 and 'name="csrfmiddlewaretoken" value="token"' in ours
    assert ours.index(f'id="key-result-{opened.pk}"') < ours.index("Check in: Key result 6.1")


@pytest.mark.parametrize("value", [None, "2", "<x>"])
def test_the_filters_select_writes_what_djangos_select_wrote(value):
    choices = [("", "Anyone"), (1, "Ana <b>&</b>"), (2, 'Bo "B"'), ("Team <A>", [(3, "Cy"), (4, "Di")])]
    attrs = {"id": "id_owner", "aria-invalid": "true", "required": False, "autofocus": True}
    ours = ListSelect(choices=choices).render("owner", value, attrs=attrs)
    assert ours == forms.Select(choices=choices).render("owner", value, attrs=attrs)
    assert "Ana &lt;b&gt;&amp;&lt;/b&gt;" in ours and ('<option value="2" selected>' in ours) is (value == "2")
