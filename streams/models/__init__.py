"""Value streams, their leadership, their work, its history and its readiness to ship.

One module per topic (as NetBox splits its models); every model is re-exported here, so
`from streams.models import X` works wherever X lives. The transition history
(`StateTransition`) is the source of truth for flow; the `started_at`/`finished_at` columns of
`BacklogItem` are derived from it by `streams.backlog.services` and never written anywhere else.
"""

from .backlog import BacklogItem, BlockedPeriod, Dependency, StateTransition, WorkflowState
from .delivery import DeliverySource, Deployment, DeploymentItem, DeploymentStatus, Incident
from .flow import FlowDay, FlowDayEfficiency, FlowDayMark, FlowDayState, FlowSnapshot
from .integrations import (
    Connection,
    HeldItem,
    ImportJob,
    ImportMapping,
    ImportProject,
    ImportSource,
    SyncRun,
    WebhookDelivery,
)
from .maps import ImprovementExperiment, ProcessBlock, ValueStreamMap, Waste
from .readiness import ReadinessCheck, ReadinessCriterion
from .streams import PERCENT_VALIDATORS, FlowType, LeadershipAssignment, TargetMix, ValueStream, percent_check
from .versions import StreamChange, StreamVersion

__all__ = [
    "StreamChange",
    "StreamVersion",
    "PERCENT_VALIDATORS",
    "percent_check",
    "FlowType",
    "ValueStream",
    "TargetMix",
    "LeadershipAssignment",
    "WorkflowState",
    "BacklogItem",
    "StateTransition",
    "BlockedPeriod",
    "Dependency",
    "ReadinessCriterion",
    "ReadinessCheck",
    "ValueStreamMap",
    "Waste",
    "ProcessBlock",
    "ImprovementExperiment",
    "FlowSnapshot",
    "FlowDay",
    "FlowDayEfficiency",
    "FlowDayState",
    "FlowDayMark",
    "ImportSource",
    "ImportMapping",
    "ImportProject",
    "WebhookDelivery",
    "ImportJob",
    "Connection",
    "SyncRun",
    "HeldItem",
    "DeliverySource",
    "Deployment",
    "DeploymentItem",
    "DeploymentStatus",
    "Incident",
]
