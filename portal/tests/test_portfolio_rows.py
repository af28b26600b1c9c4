"""The portfolio table's rows written in Python (`portfolio_rows`) are the HTML the template's
loop wrote: the loop is kept here, and both render the same rows, in both views, for the cases
where the data changes the markup (a name with markup in it, no director, a dual-role director,
a stopped connection, efficiency missing while fresh or while being recomputed, nothing
measured), in memory and through the page."""

import datetime as dt
from decimal import Decimal
import re

from django.template import Context, Template
from django.template.defaultfilters import floatformat
from django.utils import timezone
import pytest

from okrs.alignment import Alignment
from okrs.selectors import current_period
from portal.health import Check, Scorecard
from portal.portfolio import Portfolio, PortfolioRow
from portal.templatetags.portfolio_rows import one_decimal, portfolio_rows
from streams.delivery.keys import DeliveryKeys
from streams.flow.portfolio import PortfolioWindow, StreamFlow
from streams.models import Connection, LeadershipAssignment, ValueStream
from streams.tests.factories import LeadershipAssignmentFactory, ValueStreamFactory
from teams.models import Person

# templates/portal/home.html's rows before they were written in Python (commit 3a79f53).
TEMPLATE_LOOP = """{% load humanize_okrs humanize_days sparklines delivery_timeline %}
  {% url 'okrs:alignment' as alignment_url %}
  {% for row in portfolio.rows %}{% with page=row.stream.get_absolute_url|add:"?"|add:portfolio.window.query %}
    <tr data-stream="{{ row.stream.slug }}">
      <th scope="row"><a href="{{ page }}">{{ row.stream.name }}</a>
        <span class="muted small">{{ row.stream.customer|capfirst }}{% if row.stream.industry %} · {{ row.stream.industry }}{% endif %}</span>
        {% for source in row.sources %}<span class="muted small" data-testid="source">{% if source.synced_at %}synced {{ source.synced_at|timesince }} ago from {{ source.get_tool_display }}{% else %}{{ source.get_tool_display }}: {{ source.get_status_display|lower }}{% endif %}{% if source.status == "stopped" %} <span class="error">(stopped)</span>{% endif %}</span>{% endfor %}
        {% if row.stream.status != "active" %}<span class="tag">{{ row.stream.get_status_display }}</span>{% endif %}</th>
      <td>{% if row.director %}{{ row.director.person.name }} <span class="tag {% if row.director.kind == 'dual_role' %}warn{% endif %}">{{ row.director.get_kind_display }}{% if row.director.kind == 'dual_role' %}, {{ row.director.time_share_percent }}%{% endif %}</span>
        {% else %}<span class="gap">No director</span>{% endif %}</td>
      {% if view == "flow" %}
      <td class="num"><a href="{{ alignment_url }}?stream={{ row.stream.slug }}&amp;period={{ portfolio.period.label }}" title="{{ row.alignment.wip_aligned }} of {{ row.alignment.wip }} in progress; {{ row.alignment.orphans }} orphan">{% if row.alignment.wip_share is None %}—{% else %}{{ row.alignment.wip_share|percent }}{% endif %}</a></td>
      <td class="num"><a href="{{ alignment_url }}?stream={{ row.stream.slug }}&amp;period={{ portfolio.period.label }}" title="{{ row.alignment.finished_aligned }} of {{ row.alignment.finished }} finished">{% if row.alignment.finished_share is None %}—{% else %}{{ row.alignment.finished_share|percent }}{% endif %}</a></td>
      <td class="num"><a href="{{ page }}#throughput-title" title="{{ row.flow.throughput }} finished in the window">{{ row.flow.velocity|floatformat:1 }}</a></td>
      <td>{% sparkline row.flow.trend "Items finished per week" %}</td>
      <td class="num"><a href="{{ page }}#scatter-title">{{ row.flow.flow_time_p85|days }}</a></td>
      <td>{% sparkline row.flow.trend_p85 "Flow time p85 per week, days" 1 %}</td>
      <td class="num"><a href="{{ page }}#efficiency-title">{% if row.flow.efficiency is None %}<span title="{% if not row.flow.efficiency_fresh %}Being recomputed{% else %}Not measurable: no waiting state, or nothing finished{% endif %}">—</span>{% else %}{{ row.flow.efficiency|percent }}{% endif %}</a></td>
      <td class="num"><a href="{{ page }}#aging-title">{{ row.flow.wip }}</a></td>
      <td class="distribution" title="Features / defects / risks / debt among the {{ row.flow.throughput }} finished">{% if row.flow.throughput %}{% for type, share in row.flow.distribution.items %}{{ share|percent }}{% if not forloop.last %} / {% endif %}{% endfor %}{% else %}—{% endif %}</td>
      <td class="num">{% if row.readiness_pending %}<span class="tag warn">{{ row.readiness_pending }}</span>{% else %}0{% endif %}</td>
      {% endif %}
      <td class="num"><a href="{{ page }}#health" title="{{ row.health.summary }}">{% if row.health.measured %}{{ row.health.passed }}/{{ row.health.measured }}{% else %}—{% endif %}</a></td>
      {% if view == "delivery" %}{% url 'streams:delivery' row.stream.slug as delivery_url %}{% delivery_cells row.delivery delivery_url %}{% endif %}
    </tr>
  {% endwith %}{% endfor %}
"""  # noqa: E501 - the template's lines as they were

HOSTILE = "<script>alert('x')</script> & \"Co\""
TBODY = re.compile(r'<table class="data portfolio".*?<tbody>(.*?)</tbody>', re.S)


def normalized(html: str) -> str:
    """Whitespace as a browser lays out a table: any run is one space, and none counts next to
    a row's or a cell's tag."""
    html = re.sub(r"\s+", " ", html)
    return re.sub(r" ?(</?(?:tbody|tr|td|th)\b[^>]*>) ?", r"\1", html).strip()


def template_rows(portfolio: Portfolio, view: str) -> str:
    return Template(TEMPLATE_LOOP).render(Context({"portfolio": portfolio, "view": view}))


def director(name: str, kind: str, share: int = 100) -> LeadershipAssignment:
    return LeadershipAssignment(person=Person(name=name), kind=kind, time_share_percent=share)


def in_memory_portfolio() -> Portfolio:
    now = timezone.now()
    checks = [
        Check("right_things", "Right things", "rule", passed=True),
        Check("debt", "Debt & <b>", "r", passed=False),
    ]
    keys = DeliveryKeys(
        days=84, deployments=7, successful=6, deployment_days=5, failed_changes=1, lead_time_n=4, lead_time_p50=30.5
    )
    keys.bands = {"deployment_frequency": "high", "lead_time": "elite", "change_failure_rate": None}
    rows = [
        PortfolioRow(  # markup in every text people type, a dual-role director, a stopped connection
            stream=ValueStream(pk=1, name=HOSTILE, slug="hostile", customer="external", industry="Cards & <i>"),
            director=director(HOSTILE, "dual_role", 30),
            alignment=Alignment(wip=4, wip_aligned=1, finished=3, finished_aligned=2),
            flow=StreamFlow(
                throughput=3,  # velocity 0.25: floatformat rounds the half up
                flow_time_p85=4.25,
                efficiency=None,
                efficiency_fresh=False,
                wip=5,
                by_type={"feature": 1, "defect": 1, "risk": 0, "debt": 1},
                trend=[1, 0, None, 2],
                trend_p85=[3.5, None, 4.25, 1.0],
            ),
            readiness_pending=2,
            health=Scorecard(checks),
            delivery=keys,
            sources=[
                Connection(tool=Connection.Tool.JIRA_CLOUD, status=Connection.Status.STOPPED),
                Connection(
                    tool=Connection.Tool.GITHUB, status=Connection.Status.ACTIVE, synced_at=now - dt.timedelta(hours=3)
                ),
                Connection(
                    tool=Connection.Tool.AZURE_DEVOPS,
                    status=Connection.Status.STOPPED,
                    synced_at=now - dt.timedelta(days=2),
                ),
            ],
        ),
        PortfolioRow(  # no director, retired, no industry, nothing measured, efficiency missing but fresh
            stream=ValueStream(pk=2, name="Archive", slug="archive", customer="internal", status="retired"),
            director=None,
            alignment=Alignment(),
            flow=StreamFlow(efficiency=None, efficiency_fresh=True),
            readiness_pending=0,
            health=Scorecard(),
            delivery=DeliveryKeys(days=84),
        ),
        PortfolioRow(  # a dedicated director, figures everywhere
            stream=ValueStream(pk=3, name="Payments", slug="payments", customer="external", status="planned"),
            director=director("Ada", "dedicated"),
            alignment=Alignment(wip=10, wip_aligned=10, finished=0),
            flow=StreamFlow(throughput=125, flow_time_p85=12.0, efficiency=0.425, wip=40, trend=[5, 9]),
            readiness_pending=0,
            health=Scorecard([Check("a", "A", "r", passed=True), Check("b", "B", "r", passed=None)]),
            delivery=DeliveryKeys(days=84, restored_n=2, restore_p50=0.5, open_incidents=1),
        ),
    ]
    return Portfolio(
        rows, current_period(), PortfolioWindow.ending_before(), "name", Alignment(), DeliveryKeys(days=84)
    )


@pytest.mark.parametrize("view", ["flow", "delivery"])
def test_rows_are_the_templates_html_in_memory(view):
    portfolio = in_memory_portfolio()
    written = portfolio_rows(portfolio, view)
    assert normalized(written) == normalized(template_rows(portfolio, view))
    assert (
        "<script>" not in written
        and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;Co&quot;" in written
    )
    assert "Cards &amp; &lt;i&gt;" in written
    if view == "flow":
        assert 'title="Being recomputed"' in written and 'title="Not measurable' in written
        assert ">0.3</a>" in written  # 3 finished in 12 weeks
    else:
        assert 'data-key="restore"' in written


def test_one_decimal_is_floatformat_one():
    for throughput in range(2000):
        velocity = StreamFlow(throughput=throughput).velocity
        assert one_decimal(velocity) == floatformat(velocity, 1), throughput
    for value in (0, 0.05, 0.25, 2.45, 1234.55, Decimal("2.45")):
        assert one_decimal(value) == floatformat(value, 1), value


@pytest.mark.django_db
@pytest.mark.parametrize("view", ["flow", "delivery"])
def test_the_pages_rows_are_the_templates_html(admin_client, view):
    hostile = ValueStreamFactory(name=HOSTILE, industry="Cards & <i>", customer="external")
    ValueStreamFactory(name="Archive", customer="internal")  # no director
    LeadershipAssignmentFactory(stream=hostile, person__name="Bo <b>Dual</b>", kind="dual_role", time_share_percent=30)
    Connection.objects.create(stream=hostile, tool=Connection.Tool.JIRA_CLOUD, status=Connection.Status.STOPPED)
    response = admin_client.get("/", {"view": view})
    assert response.status_code == 200
    page = response.content.decode()
    body = TBODY.search(page).group(1)
    assert normalized(body) == normalized(template_rows(response.context["portfolio"], view))
    assert "<script>alert" not in page and "Bo &lt;b&gt;Dual&lt;/b&gt;" in body and "(stopped)" in body
    assert '<span class="gap">No director</span>' in body
