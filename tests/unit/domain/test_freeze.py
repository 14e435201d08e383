"""The freeze gate's classification: labels, titles and paths, with the plan's default rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runofshow.domain.freeze import ChangeClass as C
from runofshow.domain.freeze import FreezeRules, PullRequest, classify, file_class, path_matches

RULES = FreezeRules()


def pr(title: str = "Update things", *labels: str) -> PullRequest:
    return PullRequest(number=7, title=title, labels=labels, head_sha="abc123")


@pytest.mark.parametrize(
    ("path", "pattern", "match"),
    [
        ("migrations/0001_init.sql", "**/migrations/**", True),
        ("services/api/migrations/0002.py", "**/migrations/**", True),
        ("services/api/migrations_helper.py", "**/migrations/**", False),
        ("README.md", "**/*.md", True),
        ("docs/guide/setup.rst", "docs/**", True),
        ("src/docs/x.py", "docs/**", False),
        ("requirements-dev.txt", "**/requirements*.txt", True),
        ("a/b/poetry.lock", "**/poetry.lock", True),
        ("db/schema.rb", "db/schema*", True),
        ("db/seed/schema.rb", "db/schema*", False),
        ("deploy/alerts/canary.rules.yml", "**/*.rules.yml", True),
        ("CHANGELOG.MD", "*.md", True),  # no slash: the file name anywhere, case-insensitive
    ],
)
def test_path_globs(path, pattern, match):
    assert path_matches(path, pattern) is match


def test_files_get_the_first_matching_class():
    assert file_class("requirements.txt", RULES) is C.DEPENDENCY_UPDATE  # not documentation (*.txt)
    assert file_class("db/migrations/001.sql", RULES) is C.SCHEMA_MIGRATION
    assert file_class("monitoring/prometheus/alerts.yml", RULES) is C.MONITORING
    assert file_class("docs/runbook.md", RULES) is C.DOCUMENTATION
    assert file_class("src/app/main.py", RULES) is None


@pytest.mark.parametrize(
    ("title", "labels", "files", "cls"),
    [
        ("Fix order rounding", ("hotfix",), ["src/orders.py"], C.HOTFIX),
        ("Fix order rounding", ("Security",), ["src/orders.py"], C.HOTFIX),
        ('Revert "Enable v1.4.0 pricing"', (), ["src/pricing.py"], C.CANARY_ROLLBACK),
        ("Roll back canary config", (), ["deploy/canary.yaml"], C.CANARY_ROLLBACK),
        ("hotfix: null check in matcher", (), ["src/matcher.py"], C.HOTFIX),
        ("Tune p95 alert", (), ["deploy/alerts/latency.rules.yml"], C.MONITORING),
        ("Tune p95 alert", ("alerts",), ["src/metrics.py"], C.MONITORING),
        ("Explain rollback", (), ["docs/runbook.md", "README.md"], C.DOCUMENTATION),
        ("docs: typo", (), ["docs/a.md"], C.DOCUMENTATION),
        ("docs: and a tweak", (), ["docs/a.md", "src/a.py"], C.FEATURE),  # not docs only
        ("Add column", (), ["db/migrations/0042_add_col.sql"], C.SCHEMA_MIGRATION),
        ("hotfix: add index", ("hotfix",), ["db/migrations/0043.py", "src/x.py"], C.SCHEMA_MIGRATION),
        ("Docs for the new table", ("documentation",), ["migrations/0044.sql"], C.SCHEMA_MIGRATION),
        ("Add table", ("schema",), ["src/models.py"], C.SCHEMA_MIGRATION),
        ("Bump httpx from 0.27.0 to 0.28.1", (), ["requirements.txt"], C.DEPENDENCY_UPDATE),
        ("chore(deps): update lockfile", (), ["poetry.lock"], C.DEPENDENCY_UPDATE),
        ("Update things", (), ["package-lock.json", "src/a.ts"], C.DEPENDENCY_UPDATE),
        ("refactor: split matcher", (), ["src/matcher.py"], C.REFACTORING),
        ("feat: limit orders", (), ["src/limit.py"], C.FEATURE),
        ("Something", (), ["src/x.py"], C.FEATURE),
        ("Something", (), [], C.FEATURE),
        ("Urgent", ("hotfix", "feature"), ["src/x.py"], C.FEATURE),  # blocked label wins
        ("Docs", ("documentation",), ["src/x.py"], C.FEATURE),  # docs label needs docs-only paths
    ],
)
def test_change_classes(title, labels, files, cls):
    got = classify(pr(title, *labels), files, RULES, freeze_active=True)
    assert got.change_class is cls
    assert got.allowed is (cls in RULES.allowed)
    assert got.reason


def test_no_freeze_allows_everything_but_a_migration_in_market_hours():
    migration = ["db/migrations/0042.sql"]
    assert classify(pr(), ["src/x.py"], RULES, freeze_active=False, market_open=True).allowed
    off = classify(pr(), migration, RULES, freeze_active=False, market_open=False)
    assert off.allowed and "no freeze active" in off.reason
    during = classify(pr(), migration, RULES, freeze_active=False, market_open=True)
    assert not during.allowed and "market hours" in during.reason
    assert not classify(pr(), migration, RULES, freeze_active=True, market_open=False).allowed


def test_rules_from_the_plan_are_used():
    rules = FreezeRules(
        labels={C.HOTFIX: ("p0",)}, titles={C.CANARY_ROLLBACK: (r"^undo\b",)},
        paths={C.SCHEMA_MIGRATION: ("sql/**",), C.DOCUMENTATION: ("*.adoc",)},
    )
    assert classify(pr("x", "p0"), ["src/a.py"], rules, freeze_active=True).change_class is C.HOTFIX
    assert classify(pr("x", "hotfix"), ["src/a.py"], rules, freeze_active=True).change_class is C.FEATURE
    assert classify(pr("undo pricing"), ["src/a.py"], rules, freeze_active=True).allowed
    assert classify(pr(), ["sql/001.sql"], rules, freeze_active=True).change_class is C.SCHEMA_MIGRATION
    assert classify(pr(), ["guide.adoc"], rules, freeze_active=True).change_class is C.DOCUMENTATION


def test_a_class_in_neither_list_is_blocked_during_a_freeze():
    rules = FreezeRules(allowed=(C.HOTFIX,), blocked=(C.FEATURE,))
    got = classify(pr("docs: x"), ["docs/a.md"], rules, freeze_active=True)
    assert got.change_class is C.DOCUMENTATION and not got.allowed


def test_bad_title_pattern_is_a_plan_error():
    with pytest.raises(ValueError, match="not a regular expression"):
        FreezeRules(titles={C.HOTFIX: ("(",)})


names = st.text(alphabet="abcdefgh_-.", min_size=1, max_size=8)
paths = st.lists(names, min_size=1, max_size=4).map("/".join)


@given(st.lists(paths, max_size=6), st.lists(st.sampled_from(["hotfix", "feature", "docs", "x"]), max_size=3),
       st.text(max_size=40), st.booleans())
def test_a_migration_path_is_never_allowed_in_market_hours(files, labels, title, freeze):
    files = [*files, "db/migrations/0001.sql"]
    got = classify(PullRequest(1, title, tuple(labels)), files, RULES, freeze_active=freeze, market_open=True)
    assert got.change_class is C.SCHEMA_MIGRATION and not got.allowed


@given(st.lists(paths, max_size=6), st.text(max_size=40), st.booleans())
def test_without_a_freeze_only_market_hours_migrations_are_blocked(files, title, market_open):
    got = classify(PullRequest(1, title), files, RULES, freeze_active=False, market_open=market_open)
    assert got.allowed is not (market_open and got.change_class is C.SCHEMA_MIGRATION)
