"""Sending background jobs without letting an unreachable broker break the page that asked.

A page that queues work (an import, a recomputation) has done its part once the work is
recorded in the database. If Redis is down at that moment, `send` logs it and returns False
instead of raising: the caller leaves a mark, and a periodic sweep sends the job again once
the broker is back (see `streams.integrations.tasks.resend_waiting_jobs`).
"""

import logging

from celery import current_app
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)

# A broker that is down refuses the connection at once: two quick retries, not Celery's default
# of several seconds, so the page still answers promptly.
SEND_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


def send(task, *args) -> bool:
    """Send `task(*args)` to the broker (or run it in-process when there is none configured).

    `task` is a task or its registered name: a service names the task it queues, so it needs
    not import the tasks module, which imports the services."""
    if isinstance(task, str):
        task = current_app.tasks[task]
    try:
        task.apply_async(args=args, retry=True, retry_policy=SEND_RETRY)
    except (OperationalError, ConnectionError, OSError) as error:
        logger.warning("The job queue is unreachable; %s%r not sent, to be retried: %s", task.name, args, error)
        return False
    return True
