"""The leadership page's lists written in Python (`leader_rows`, `load_rows`, `gap_items`) are
the HTML the template's loops wrote: the loops are kept here and both render the page's data,
with markup in the names people type, no director, a dual-role director with an overdue review
and no mentor, a dedicated one with a mentor and a P&L, a value stream manager, an overloaded
director, experience whole and in tenths."""

import datetime as dt
from decimal import Decimal
import re

from django.template import Context, Template
from django.template.defaultfilters import floatformat
from django.utils import timezone
import pytest

from portal.templatetags.leadership_rows import gap_items, leader_rows, load_rows, whole_or_tenths
from streams.backlog.services import item_change_state, item_create
from streams.tests.factories import LeadershipAssignmentFactory, ValueStreamFactory, state
from teams.tests.factories import PersonFactory

pytestmark = pytest.mark.django_db
TODAY = timezone.now().date()
HOSTILE = "<script>alert('x')</script> & \"Co\""

# templates/portal/leadership.html's loops before they were written in Python (commit 3a79f53).
GAPS_LOOP = """{% for stream, gap in l.gaps %}<li><a href="{{ stream.get_absolute_url }}?{{ l.window.query }}">{{ stream.name }}</a>: <span class="gap">{{ gap }}</span></li>{% endfor %}"""  # noqa: E501
LEADERS_LOOP = """{% for row in l.rows %}{% with d=row.director %}
      <tr data-stream="{{ row.stream.slug }}">
        <th scope="row"><a href="{{ row.stream.get_absolute_url }}?{{ l.window.query }}">{{ row.stream.name }}</a></th>
        {% if d %}
        <td>{{ d.person.name }}</td>
        <td><span class="tag {% if d.kind == 'dual_role' %}warn{% endif %}">{{ d.get_kind_display }}</span> {{ d.time_share_percent }}%</td>
        <td class="num">{{ d.digital_experience_years|floatformat:"-1" }}</td>
        <td>{{ d.owns_pnl|yesno:"Owns,No" }}</td>
        <td>{{ d.induction_completed|yesno:"Done,Not yet" }}</td>
        <td>{% if d.mentor %}{{ d.mentor.name }}{% else %}<span class="gap">none</span>{% endif %}</td>
        <td class="nowrap">{% if d.review_date %}<span{% if d.review_date < l.today %} class="gap" title="Overdue"{% endif %}>{{ d.review_date|date:"Y-m-d" }}</span>{% else %}—{% endif %}</td>
        {% else %}
        <td colspan="7"><span class="gap">No product director</span></td>
        {% endif %}
        <td>{% if row.manager %}{{ row.manager.person.name }} <span class="muted small">{{ row.manager.get_kind_display|lower }}, {{ row.manager.time_share_percent }}% of their time</span>{% else %}—{% endif %}</td>
      </tr>
    {% endwith %}{% endfor %}"""  # noqa: E501 - the template's lines as they were
LOADS_LOOP = """{% for load in l.loads %}
      <tr><th scope="row">{{ load.person.name }}</th>
        <td>{% for stream in load.streams %}<a href="{{ stream.get_absolute_url }}?{{ l.window.query }}">{{ stream.name }}</a>{% if not forloop.last %}, {% endif %}{% endfor %}</td>
        <td class="num">{% if load.overloaded %}<span class="gap">{{ load.time_share }}%</span>{% else %}{{ load.time_share }}%{% endif %}</td>
        <td class="num">{{ load.wip }}</td><td class="num">{{ load.throughput }}</td></tr>
    {% endfor %}"""  # noqa: E501


def normalized(html: str) -> str:
    """Whitespace as a browser lays out a table or a list: any run is one space, and none counts
    next to a row's, a cell's or a list item's tag."""
    html = re.sub(r"\s+", " ", html)
    return re.sub(r" ?(</?(?:tr|td|th|li)\b[^>]*>) ?", r"\1", html).strip()


@pytest.fixture
def streams():
    mentor = PersonFactory(name="Mia <b>Mentor</b>")
    ada, bo = PersonFactory(name=HOSTILE), PersonFactory(name="Bo Busy")
    payments, lending, cards = (ValueStreamFactory(name=name) for name in ("Payments & <i>co</i>", "Lending", "Cards"))
    ValueStreamFactory(name="Archive")  # no director
    LeadershipAssignmentFactory(
        stream=payments,
        person=ada,
        kind="dedicated",
        mentor=mentor,
        owns_pnl=True,
        induction_completed=True,
        digital_experience_years=Decimal("4.0"),
        review_date=TODAY + dt.timedelta(days=30),
    )
    LeadershipAssignmentFactory(
        stream=payments, person=PersonFactory(name="Val <Manager>"), role="value_stream_manager", time_share_percent=50
    )
    LeadershipAssignmentFactory(
        stream=lending,
        person=bo,
        kind="dual_role",
        time_share_percent=60,
        digital_experience_years=Decimal("2.25"),
        review_date=TODAY - dt.timedelta(days=1),
    )
    LeadershipAssignmentFactory(stream=cards, person=bo, kind="dual_role", time_share_percent=45)
    for stream, n in ((payments, 2), (lending, 1)):
        for k in range(n):
            item = item_create(stream_id=stream.pk, title=f"{stream.name} {k}", flow_type="feature")
            item_change_state(item=item, to_state=state(stream, "In progress"))


def test_the_pages_lists_are_the_templates_html(admin_client, streams):
    response = admin_client.get("/leadership/")
    assert response.status_code == 200
    page = response.content.decode()
    ship = response.context["leadership"]
    assert ship.gaps and any(load.overloaded for load in ship.loads)
    context = Context({"l": ship})
    query, today = ship.window.query, ship.today
    for written, loop in (
        (gap_items(ship.gaps, query), GAPS_LOOP),
        (leader_rows(ship.rows, query, today), LEADERS_LOOP),
        (load_rows(ship.loads, query), LOADS_LOOP),
    ):
        assert normalized(written) == normalized(Template(loop).render(context))
        assert normalized(written) in normalized(page)
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)" in page
    assert 'title="Overdue"' in page and "<td>Owns</td>" in page and ">2.3</td>" in page and ">4</td>" in page


def test_whole_or_tenths_is_floatformat_minus_one():
    values = [Decimal(n) / 10 for n in range(1000)] + [Decimal(n) / 100 for n in range(1000)]
    for value in [*values, 0, 3, 2.25, 4.0, 0.05, None]:
        assert whole_or_tenths(value) == floatformat(value, "-1"), value
