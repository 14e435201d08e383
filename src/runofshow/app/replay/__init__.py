"""Offline evaluation: replay a recorded scenario through the engine, and the bench."""
