"""`manage.py`, the entry point of every command a person or a benchmark runs."""

import gc
import sys

import manage


def test_a_command_leaves_the_heap_frozen_for_the_shutdown(monkeypatch, capsys):
    # Python's shutdown would go over the whole heap once more (0.2-0.3 s after a large import).
    monkeypatch.setattr(sys, "argv", ["manage.py", "version"])
    assert gc.get_freeze_count() == 0
    try:
        manage.main()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    assert capsys.readouterr().out.strip()  # the command ran


def test_a_failing_command_leaves_it_frozen_too(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["manage.py", "no_such_command"])
    try:
        try:
            manage.main()
        except SystemExit as exit:
            assert exit.code == 1
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    assert "Unknown command" in capsys.readouterr().err
