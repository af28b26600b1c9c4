"""The OKR tree's key-result rows are written in Python (`okrs.templatetags.okr_rows`): each row
must be what the template loop wrote before, escaping included, whatever the data."""

import datetime as dt
from decimal import Decimal
import re

from django.template import Context, Template
from django.utils import timezone
import pytest

from okrs.models import KeyResult, Measure
from okrs.selectors import KeyResultRow, ObjectiveNode, period_from
from okrs.templatetags.okr_rows import key_result_row
from okrs.tests.factories import KeyResultFactory, ObjectiveFactory
from teams.tests.factories import PersonFactory

PERIOD = period_from(None)
TODAY = timezone.localdate()

# The row as `_objective.html` wrote it before: the reference the Python row must match.
TEMPLATE_ROW = Template(
    """{% load humanize_okrs okr_drawing links %}
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
      </tr>"""  # noqa: E501
)


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
