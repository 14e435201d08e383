"""In-memory fakes of the ports. Production code: they pass the same contract tests as the real
adapters and are used by unit tests, replay and dry runs. Named for behaviour
(`InMemoryRouter`, `ScriptedMetrics`, `RecordingNotifier`, ...).

Each block below belongs to one role; add to a block with small edits.
"""

from __future__ import annotations
