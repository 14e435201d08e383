"""The T-minus step use cases: freeze, war room opening, preflight, blast radius, market windows."""
