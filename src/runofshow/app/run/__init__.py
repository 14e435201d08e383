"""The run engine: typed ledger events, state and fold, the runner and what it writes out."""
