"""`manage.py measure_key_results`: record today's reading of every measured key result now
(what beat runs every morning). Idempotent: a second run the same day records nothing."""

import time

from django.core.management.base import BaseCommand

from okrs.measures import key_results_measure


class Command(BaseCommand):
    help = "Record today's reading of every measured key result whose figure changed."

    def handle(self, *args, **options):
        began = time.perf_counter()
        counts = key_results_measure()
        self.stdout.write(
            f"{counts['measured']} measured key results: {counts['recorded']} recorded, "
            f"{counts['unchanged']} unchanged, {counts['nothing_to_measure']} with nothing to measure "
            f"({time.perf_counter() - began:.1f} s)."
        )
