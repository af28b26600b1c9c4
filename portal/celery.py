"""The Celery application. Workers: `celery -A portal worker`; beat: `celery -A portal beat`."""

import os
import resource

from celery import Celery
from celery.signals import worker_init, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@worker_process_init.connect
def limit_worker_memory(**kwargs) -> None:
    """Cap the address space of the worker and of each pool process (WORKER_MEMORY_LIMIT_MB).

    A job that tries to take more gets a MemoryError and fails with a message, instead of the
    kernel killing the worker and the broker handing the same job to the next one.
    """
    from django.conf import settings

    limit = settings.WORKER_MEMORY_LIMIT_MB
    if not limit:
        return
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    wanted = limit * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_AS, (wanted, hard))
