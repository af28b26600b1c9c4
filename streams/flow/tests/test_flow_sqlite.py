"""The flow engine's hand-computed tests, the rollups' equality tests, the measured map, the
experiment verdicts and the delivery keys, run again on SQLite.

The suite runs on PostgreSQL; the engine's SQL differs by dialect (core.sql), so its tests
run a second time in a subprocess whose test database is SQLite.
"""

import os
from pathlib import Path
import subprocess
import sys

from django.db import connection
import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_flow_engine_passes_its_tests_on_sqlite(tmp_path):
    if connection.vendor == "sqlite":
        pytest.skip("this run is on SQLite already")
    env = {**os.environ, "TEST_DATABASE_URL": f"sqlite:///{tmp_path / 'flow.sqlite3'}"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:xdist",
            "streams/flow/tests/test_flow.py",
            "streams/flow/tests/test_engine_fast_paths.py",
            "streams/flow/tests/test_flow_command_rows.py",
            "streams/flow/tests/test_rollups.py",
            "streams/maps/tests/test_vsm.py",
            "streams/experiments/tests/test_experiments.py",
            "streams/delivery/tests/test_delivery.py",
            "streams/flow/tests/test_quality.py",
            "streams/readiness/tests/test_lead_time_samples.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
