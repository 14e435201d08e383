"""Team mode (issue 13): runs submitted to a queue in PostgreSQL and driven by workers that hold
a fenced lease on each (`submit.py`, `worker.py`). SQL stays behind the `Leases` port."""
