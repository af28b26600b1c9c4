"""Signals the backlog sends for others to act on (the portal's notifications listen).

`release_gate_refused(item, to_state, unmet, actor)`: a move into a done state was refused
because readiness checks are pending; sent after the refused transaction rolled back, so a
receiver's writes stand."""

from django.dispatch import Signal

release_gate_refused = Signal()
