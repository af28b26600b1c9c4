"""Jobs side by side: each thread on its own connection, results in order, failures raised."""

import sys

from django.db import connection
import pytest

from core import parallel
from core.parallel import default_workers, each_side_by_side


def backend_pid(job: int) -> tuple[int, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid() FROM (SELECT pg_sleep(0.05)) AS pause")
        return job, cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_jobs_run_on_several_connections_and_come_back_in_order():
    results = each_side_by_side(range(8), backend_pid, workers=2)
    assert [job for job, _ in results] == list(range(8))
    pids = {pid for _, pid in results}
    assert len(pids) == 2 and backend_pid(0)[1] not in pids  # neither is the caller's


@pytest.mark.django_db(transaction=True)
def test_a_failure_stops_the_others_and_is_raised():
    ran = []

    def job(n: int) -> int:
        ran.append(n)
        if n == 1:
            raise ValueError("job 1 failed")
        return n

    with pytest.raises(ValueError, match="job 1 failed"):
        each_side_by_side(range(100), job, workers=2)
    assert len(ran) < 100


@pytest.mark.django_db
def test_inside_a_transaction_every_job_runs_on_the_callers_connection():
    assert default_workers() == 1
    mine = backend_pid(0)[1]
    assert {pid for _, pid in each_side_by_side(range(3), backend_pid, workers=2)} == {mine}


def test_quick_switches_lower_the_interval_while_any_user_is_inside_and_restore_it_after():
    before = sys.getswitchinterval()
    first, second = parallel.quick_switches(), parallel.quick_switches()
    first.__enter__()
    assert sys.getswitchinterval() == parallel.QUICK_SWITCH
    second.__enter__()
    first.__exit__(None, None, None)  # the other user is still inside: still quick
    assert sys.getswitchinterval() == parallel.QUICK_SWITCH
    second.__exit__(None, None, None)
    assert sys.getswitchinterval() == before


def test_quick_switches_never_raise_an_interval_already_lower():
    before = sys.getswitchinterval()
    sys.setswitchinterval(parallel.QUICK_SWITCH / 2)
    try:
        with parallel.quick_switches():
            assert sys.getswitchinterval() == parallel.QUICK_SWITCH / 2
    finally:
        sys.setswitchinterval(before)


def test_quick_switches_restore_the_interval_when_the_block_raises():
    before = sys.getswitchinterval()
    with pytest.raises(ValueError), parallel.quick_switches():
        raise ValueError
    assert sys.getswitchinterval() == before
