"""Every background job of the streams app, for Celery's autodiscovery (which looks for
`<app>.tasks`) and for `streams.apps.ready`, which imports this so every process knows them.
The tasks live beside their services, in each sub-package's `tasks.py`; their names are
explicit ("streams.run_import", ...), so beat and queued messages do not depend on where."""

from streams.backlog.tasks import refresh_flow_dates
from streams.experiments.tasks import review_experiments
from streams.flow.tasks import record_flow_snapshots, refresh_flow_rollups
from streams.integrations.tasks import (
    prune_webhook_deliveries,
    resend_waiting_jobs,
    run_import,
    sync_connection,
    sync_connections,
)

__all__ = [
    "prune_webhook_deliveries",
    "record_flow_snapshots",
    "refresh_flow_dates",
    "refresh_flow_rollups",
    "resend_waiting_jobs",
    "review_experiments",
    "run_import",
    "sync_connection",
    "sync_connections",
]
