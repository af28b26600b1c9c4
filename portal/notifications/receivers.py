"""Events told as they happen: a release-gate refusal → the members of the teams that own the
pending criteria (once a day per item and state: a product owner retrying does not spam them)."""

from collections import defaultdict

from django.db import transaction
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone

from core.queue import send
from portal.notifications.models import Kind
from portal.notifications.producers import team_chats
from portal.notifications.services import Message, notify
from streams.backlog.signals import release_gate_refused
from teams.models import Membership


@receiver(release_gate_refused, dispatch_uid="notify-gate-refused")
def gate_refused(sender, item, to_state, unmet, actor=None, **kwargs) -> None:
    by_team = defaultdict(list)
    for criterion in unmet:
        by_team[criterion.owner_team_id].append(criterion)
    chats = team_chats(by_team)
    today = timezone.localdate()
    url = reverse("item-detail", args=[item.pk])
    told = 0
    for membership in Membership.objects.filter(team_id__in=by_team).select_related("person", "team"):
        criteria = by_team[membership.team_id]
        queue = reverse("readiness:queue") + f"?team={membership.team.slug}"
        message = Message(
            subject=f"{item.key} was held back from {to_state.name}: {len(criteria)} check"
            f"{'s' if len(criteria) != 1 else ''} of {membership.team.name} pending",
            url=url,
            lines=tuple((f"{criterion.name} (pending)", queue) for criterion in criteria),
            figures=f"refused {timezone.now():%Y-%m-%d %H:%M} UTC"
            + (f" when {actor.get_full_name() or actor.get_username()} moved it" if actor is not None else ""),
        )
        key = f"gate:{item.pk}:{to_state.pk}:{today}"
        told += bool(notify(membership.person, Kind.GATE_REFUSED, key, message, chats=chats[membership.team_id]))
    if told:
        transaction.on_commit(lambda: send("portal.deliver_notifications"))
