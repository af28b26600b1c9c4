"""`manage.py review_experiments [--today DATE]`: what the daily beat job does, by hand.

Records the baselines of experiments that have started and the verdicts of those whose review
date has come. Idempotent: a second run changes nothing. Useful without Celery beat (the
embedded default) or to see what a given day would decide.
"""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from streams.experiments.services import experiments_review


class Command(BaseCommand):
    help = "Record experiments' baselines once they start and their verdicts on their review date."

    def add_arguments(self, parser):
        parser.add_argument("--today", help="Judge as of this day (YYYY-MM-DD); default: today in UTC.")

    def handle(self, *args, today: str | None = None, **options):
        try:
            day = dt.date.fromisoformat(today) if today else None
        except ValueError as error:
            raise CommandError(f"--today must be a date like 2026-11-21, not {today!r}.") from error
        counts = experiments_review(today=day)
        self.stdout.write(f"{counts['baselines']} baseline(s) and {counts['verdicts']} verdict(s) recorded.")
