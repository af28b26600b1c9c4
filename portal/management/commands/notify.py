"""`manage.py notify`: run the notification jobs now (what beat runs on its schedule).

    manage.py notify             # events and the daily jobs, then every delivery due
    manage.py notify --events    # only experiment verdicts, failed syncs and imports
    manage.py notify --daily     # only check-ins, readiness digests, aging work and leaders' digests

Idempotent, as the scheduled jobs are: what was said for a day or week is not said again.
`make run` calls it after seeding, so the demo organisation's notifications are on the console
(the console email backend) and on each person's notifications page.
"""

import time

from django.core.management.base import BaseCommand
from django.utils import timezone

from portal.notifications import producers
from portal.notifications.digest import leader_digests
from portal.notifications.services import deliver_due


class Command(BaseCommand):
    help = "Run the notification jobs now and send what is due."

    def add_arguments(self, parser):
        parser.add_argument("--events", action="store_true", help="only the event jobs")
        parser.add_argument("--daily", action="store_true", help="only the daily jobs")
        parser.add_argument("--no-deliver", action="store_true", help="record, but do not send")

    def handle(self, *args, **options):
        both = not (options["events"] or options["daily"])
        now, today = timezone.now(), timezone.localdate()
        told: dict[str, int] = {}
        started = time.perf_counter()
        if both or options["events"]:
            told["experiment verdicts"] = producers.experiment_verdicts(now)
            told["sync and import problems"] = producers.sync_problems(now)
        if both or options["daily"]:
            told["check-ins due or stale"] = producers.checkins(today)
            told["readiness digests"] = producers.readiness_digests(today)
            told["aging work"] = producers.aging(today, now)
            told["leaders' digests"] = leader_digests(today)
        recorded = time.perf_counter() - started
        summary = ", ".join(f"{name}: {count}" for name, count in told.items())
        self.stderr.write(f"Notifications recorded in {recorded:.1f} s ({summary}).")
        if not options["no_deliver"]:
            sent = deliver_due()
            self.stderr.write(
                f"Deliveries: {sent['sent']} sent, {sent['retry']} to retry, {sent['failed']} failed "
                f"({time.perf_counter() - started:.1f} s in all)."
            )
