"""Command-line interface: Typer commands and Rich views. Exit codes are mapped in `main`."""
