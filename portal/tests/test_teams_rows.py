"""The teams page's lists written in Python (`team_rows`, `wait_rows`, `needs_items`) are the
HTML the template's loops wrote: the loops are kept here and both render the page's data, with
markup in the names people type, a team over its WIP limit, one with no limit and no stream, a
stream missing a discipline and one with all covered."""

import datetime as dt
import re

from django.template import Context, Template
from django.utils import timezone
import pytest

from portal.templatetags.teams_rows import needs_items, team_rows, wait_rows
from streams.backlog.services import item_change_state, item_create
from streams.models import Dependency
from streams.tests.factories import ValueStreamFactory, state
from teams.tests.factories import DisciplineFactory, MembershipFactory, PersonFactory, TeamFactory

pytestmark = pytest.mark.django_db

# templates/portal/teams.html's loops before they were written in Python (commit 3a79f53).
TEAMS_LOOP = """{% for row in c.teams %}
    <tr data-team="{{ row.team.slug }}">
      <th scope="row">{{ row.team.name }}</th>
      <td>{{ row.team.get_type_display }}</td>
      <td class="num">{{ row.members }}</td>
      <td class="num">{{ row.fte|floatformat:1 }}</td>
      <td class="num">{% if row.over_limit %}<span class="gap" title="Above the team's WIP limit">{{ row.wip }} / {{ row.team.wip_limit }}</span>{% else %}{{ row.wip }} / {{ row.team.wip_limit|default:"no limit" }}{% endif %}</td>
      <td>{{ row.disciplines|join:", "|default:"—" }}</td>
      <td>{% for stream in row.team.streams.all %}<a href="{{ stream.get_absolute_url }}">{{ stream.name }}</a>{% if not forloop.last %}, {% endif %}{% empty %}—{% endfor %}</td>
    </tr>
  {% endfor %}"""  # noqa: E501 - the template's lines as they were
WAITS_LOOP = """{% load humanize_days %}{% for pair in c.waits %}<tr><th scope="row">{{ pair.waiting.name }}</th><td>{{ pair.blocking.name }}</td><td class="num">{{ pair.dependencies }}</td><td class="num">{{ pair.oldest_days|days }}</td></tr>{% endfor %}"""  # noqa: E501
NEEDS_LOOP = """{% for entry in c.needs %}
      <li><a href="{{ entry.stream.get_absolute_url }}">{{ entry.stream.name }}</a>:
        {% if entry.missing %}<span class="gap">missing {{ entry.missing|join:", " }}</span> (needs {{ entry.needed|join:", " }}){% else %}all {{ entry.needed|length }} covered{% endif %}</li>
    {% endfor %}"""  # noqa: E501
HOSTILE = "<script>alert('x')</script> & \"Co\""


def normalized(html: str) -> str:
    """Whitespace as a browser lays out a table or a list: any run is one space, and none counts
    next to a row's, a cell's or a list item's tag."""
    html = re.sub(r"\s+", " ", html)
    return re.sub(r" ?(</?(?:tr|td|th|li)\b[^>]*>) ?", r"\1", html).strip()


@pytest.fixture
def org():
    design, engineering = DisciplineFactory(name="Design & <b>UX</b>"), DisciplineFactory(name="Engineering")
    checkout = TeamFactory(name=HOSTILE, wip_limit=1)
    platform = TeamFactory(name="Platform", type="platform")
    TeamFactory(name="Idle", wip_limit=0)  # no member, no stream, a limit of 0
    payments, cards = ValueStreamFactory(name="Payments <i>"), ValueStreamFactory(name="Cards")
    payments.teams.add(checkout, platform)
    cards.teams.add(checkout)
    payments.required_disciplines.add(design, engineering)
    cards.required_disciplines.add(engineering)
    ana = PersonFactory(name="Ana")
    ana.disciplines.add(engineering)
    MembershipFactory(person=ana, team=checkout, allocation_percent=85)
    MembershipFactory(person=PersonFactory(name="Ben"), team=platform, allocation_percent=50)
    items = []
    for n, team in enumerate((checkout, checkout, platform)):
        item = item_create(stream_id=payments.pk, title=f"Work {n}", flow_type="feature", team=team)
        item_change_state(item=item, to_state=state(payments, "In progress"))
        items.append(item)
    Dependency.objects.create(item=items[0], blocked_by=items[2], created_at=timezone.now() - dt.timedelta(days=6))


def test_the_pages_lists_are_the_templates_html(admin_client, org):
    response = admin_client.get("/teams/")
    assert response.status_code == 200
    c = response.context["composition"]
    assert any(row.over_limit for row in c.teams) and any(entry.missing for entry in c.needs) and c.waits
    context = Context({"c": c})
    for written, loop in ((team_rows(c.teams), TEAMS_LOOP), (wait_rows(c.waits), WAITS_LOOP)):
        assert normalized(written) == normalized(Template(loop).render(context))
        assert normalized(written) in normalized(response.content.decode())
    needs = needs_items(c.needs)
    assert normalized(needs) == normalized(Template(NEEDS_LOOP).render(context))
    page = response.content.decode()
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)" in page
    assert "Design &amp; &lt;b&gt;UX&lt;/b&gt;" in page and "no limit" in page
