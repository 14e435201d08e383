"""The ports: one small `typing.Protocol` per role the core needs from the world.

Signatures use domain types and stdlib types only. Real adapters live in `runofshow.adapters`
(named for the system they talk to); in-memory fakes live in `runofshow.adapters.memory` (and, for
the T-minus steps' tools, `runofshow.adapters.memory_steps`; for communications,
`runofshow.adapters.fakes_comms`) and pass the same contract tests. Only `runofshow.app.bootstrap`
builds adapters.
"""

from __future__ import annotations

from runofshow.ports.comms import (
    ChatInteractions,
    DeploymentStatus,
    PagerMode,
    PagerSnapshot,
    SeenRequests,
    WarRoomChannel,
)
from runofshow.ports.run import (
    AlertFeed,
    Annotator,
    ApiToken,
    Clock,
    Ledger,
    LedgerEvent,
    MetricsSource,
    Notifier,
    RunRecord,
    TokenStore,
    TrafficRouter,
    WebhookRefusal,
    WeightNote,
)
from runofshow.ports.steps import (
    CommandResult,
    CommandRunner,
    FreezeStore,
    HttpAnswer,
    HttpProbe,
    LoadGenerator,
    LoadResult,
    MarketCalendar,
    PullRequestHost,
)
from runofshow.ports.team import (
    Caps,
    Lease,
    Leases,
)

__all__ = [
    "AlertFeed",
    "Annotator",
    "ApiToken",
    "Caps",
    "ChatInteractions",
    "Clock",
    "CommandResult",
    "CommandRunner",
    "DeploymentStatus",
    "FreezeStore",
    "HttpAnswer",
    "HttpProbe",
    "Lease",
    "Leases",
    "Ledger",
    "LedgerEvent",
    "LoadGenerator",
    "LoadResult",
    "MarketCalendar",
    "MetricsSource",
    "Notifier",
    "PagerMode",
    "PagerSnapshot",
    "PullRequestHost",
    "RunRecord",
    "SeenRequests",
    "TokenStore",
    "TrafficRouter",
    "WarRoomChannel",
    "WebhookRefusal",
    "WeightNote",
]
