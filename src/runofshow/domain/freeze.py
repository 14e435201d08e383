"""The freeze gate: what kind of change a pull request is, and may it merge now?

Pure. `classify(pr, files, rules, freeze_active=..., market_open=...)` looks at the PR's labels,
its title and the paths it changes, in this order:

Each path gets the first class whose patterns match it (schema migration, dependency update,
monitoring, documentation) or none (code). Then:

1. schema migration: any changed (or renamed-from) path matching the migration patterns, or a
   migration label. A label cannot talk a migration path out of this.
2. labels: a blocked class's label wins over an allowed one (a PR labelled both `hotfix` and
   `feature` is a feature). A documentation label counts only when every path is documentation.
3. documentation only: every path is documentation.
4. title: the rules' title patterns (`Revert`, `hotfix`, `chore(deps)`, `refactor:`, `feat:`...).
5. paths: any dependency file -> dependency update; only monitoring/alert files (and
   documentation) -> monitoring.
6. anything else is a code change with no allowed label: a new feature (fail closed).

Then: a schema migration during market hours is blocked even with no freeze; with no freeze
everything else is allowed; during a freeze the rules' allowed/blocked lists decide (a class in
neither list is blocked).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Literal, NamedTuple

from pydantic import Field, field_validator, model_validator

from runofshow.domain.model import FrozenModel


class ChangeClass(StrEnum):
    HOTFIX = "hotfix"
    CANARY_ROLLBACK = "canary_rollback"
    MONITORING = "monitoring"
    DOCUMENTATION = "documentation"
    SCHEMA_MIGRATION = "schema_migration"
    FEATURE = "feature"
    DEPENDENCY_UPDATE = "dependency_update"
    REFACTORING = "refactoring"


class FreezeRules(FrozenModel):
    """The change freeze: which classes of change may merge while the canary is out, and how a
    pull request's labels, changed paths and title put it in a class (the plan's `freeze`)."""

    enabled: bool = Field(default=True, description="false: no freeze (a drill, code not on GitHub)")
    label: str = "hold-for-canary"
    allowed: tuple[ChangeClass, ...] = (
        ChangeClass.HOTFIX, ChangeClass.CANARY_ROLLBACK, ChangeClass.MONITORING,
        ChangeClass.DOCUMENTATION,
    )
    blocked: tuple[ChangeClass, ...] = (
        ChangeClass.SCHEMA_MIGRATION, ChangeClass.FEATURE, ChangeClass.DEPENDENCY_UPDATE,
        ChangeClass.REFACTORING,
    )
    labels: dict[ChangeClass, tuple[str, ...]] = Field(
        default_factory=lambda: {
            ChangeClass.HOTFIX: ("hotfix", "critical", "security"),
            ChangeClass.CANARY_ROLLBACK: ("canary-rollback", "rollback"),
            ChangeClass.MONITORING: ("monitoring", "alerts"),
            ChangeClass.DOCUMENTATION: ("documentation", "docs"),
            ChangeClass.SCHEMA_MIGRATION: ("migration", "schema"),
            ChangeClass.DEPENDENCY_UPDATE: ("dependencies",),
            ChangeClass.REFACTORING: ("refactor", "refactoring"),
            ChangeClass.FEATURE: ("feature", "enhancement"),
        }
    )
    paths: dict[ChangeClass, tuple[str, ...]] = Field(
        default_factory=lambda: {
            ChangeClass.SCHEMA_MIGRATION: (
                "**/migrations/**", "**/migrate/**", "**/alembic/**", "**/*.sql", "db/schema*",
            ),
            ChangeClass.DEPENDENCY_UPDATE: (
                "**/requirements*.txt", "**/poetry.lock", "**/Pipfile.lock", "**/package-lock.json",
                "**/yarn.lock", "**/go.sum", "**/Cargo.lock", "**/uv.lock", "**/pyproject.toml",
                "**/package.json", "**/go.mod",
            ),
            ChangeClass.MONITORING: (
                "**/alerts/**", "**/*.rules.yml", "**/*.rules.yaml", "**/prometheus/**",
                "**/grafana/**", "**/dashboards/**",
            ),
            ChangeClass.DOCUMENTATION: ("**/*.md", "docs/**", "**/*.rst", "**/*.txt"),
        }
    )
    titles: dict[ChangeClass, tuple[str, ...]] = Field(
        default_factory=lambda: {
            ChangeClass.CANARY_ROLLBACK: (r"^revert\b", r"\broll ?back\b"),
            ChangeClass.HOTFIX: (r"\bhot ?fix\b", r"\bcve-\d{4}-\d+"),
            ChangeClass.SCHEMA_MIGRATION: (r"\bmigrations?\b", r"\balter table\b"),
            ChangeClass.DEPENDENCY_UPDATE: (
                r"^(build|chore)\(deps", r"^deps?[(:]", r"\bbump \S+ from \S+ to\b",
            ),
            ChangeClass.REFACTORING: (r"^refactor\b", r"\brefactor(ing)?\b"),
            ChangeClass.MONITORING: (r"^(monitoring|alerts?)[(:]", r"\balert rules?\b"),
            ChangeClass.DOCUMENTATION: (r"^docs?[(:]",),
            ChangeClass.FEATURE: (r"^feat\b",),
        },
        description="case-insensitive regular expressions searched in the PR title",
    )

    @field_validator("titles")
    @classmethod
    def _regexes(cls, v: dict[ChangeClass, tuple[str, ...]]) -> dict[ChangeClass, tuple[str, ...]]:
        for patterns in v.values():
            for pat in patterns:
                try:
                    re.compile(pat)
                except re.error as err:
                    raise ValueError(f"'{pat}' is not a regular expression: {err}") from None
        return v

    @model_validator(mode="after")
    def _disjoint(self) -> FreezeRules:
        both = set(self.allowed) & set(self.blocked)
        if both:
            raise ValueError(f"{', '.join(sorted(both))} cannot be both allowed and blocked")
        return self


@dataclass(frozen=True)
class PullRequest:
    number: int
    title: str = ""
    labels: tuple[str, ...] = ()
    head_sha: str = ""
    state: str = "open"
    draft: bool = False
    author: str = ""
    url: str = ""

    def has_label(self, label: str) -> bool:
        return label.lower() in (x.lower() for x in self.labels)


class Classification(NamedTuple):
    change_class: ChangeClass
    allowed: bool
    reason: str


# Which class wins when labels or titles name several: blocked ones first, most serious first.
PRECEDENCE = (
    ChangeClass.SCHEMA_MIGRATION, ChangeClass.DEPENDENCY_UPDATE, ChangeClass.FEATURE,
    ChangeClass.REFACTORING, ChangeClass.CANARY_ROLLBACK, ChangeClass.HOTFIX, ChangeClass.MONITORING,
    ChangeClass.DOCUMENTATION,
)
TITLE_ORDER = (
    ChangeClass.CANARY_ROLLBACK, ChangeClass.HOTFIX, ChangeClass.SCHEMA_MIGRATION,
    ChangeClass.DEPENDENCY_UPDATE, ChangeClass.REFACTORING, ChangeClass.MONITORING,
    ChangeClass.DOCUMENTATION, ChangeClass.FEATURE,
)


# --------------------------------------------------------------------------- globs


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """gitignore-like globs: `**/` any directories (or none), `**` anything, `*` and `?` within a name."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z", re.IGNORECASE)


def path_matches(path: str, pattern: str) -> bool:
    """True when `path` (repository-relative, `/`-separated) matches `pattern`.

    A pattern without `/` matches the file name in any directory (`*.md`).
    """
    path = path.lstrip("/")
    if "/" not in pattern.rstrip("/"):
        return bool(_glob_regex(pattern).match(path.rsplit("/", 1)[-1]))
    return bool(_glob_regex(pattern.lstrip("/")).match(path))


def matching(paths: Iterable[str], patterns: Sequence[str]) -> list[str]:
    return [p for p in paths if any(path_matches(p, pat) for pat in patterns)]


# --------------------------------------------------------------------------- classification


def _first(classes: Iterable[ChangeClass]) -> ChangeClass | None:
    found = set(classes)
    return next((c for c in PRECEDENCE if c in found), None)


def _label_classes(pr: PullRequest, rules: FreezeRules) -> dict[ChangeClass, str]:
    out: dict[ChangeClass, str] = {}
    have = {x.lower(): x for x in pr.labels}
    for cls, names in rules.labels.items():
        for n in names:
            if n.lower() in have:
                out.setdefault(cls, have[n.lower()])
    return out


def _title_class(title: str, rules: FreezeRules) -> tuple[ChangeClass, str] | None:
    text = title.strip()
    for cls in TITLE_ORDER:
        for pat in rules.titles.get(cls, ()):
            m = re.search(pat, text, re.IGNORECASE)
            if m:
                return cls, m.group(0)
    return None


def _short(paths: Sequence[str], n: int = 3) -> str:
    more = f" and {len(paths) - n} more" if len(paths) > n else ""
    return ", ".join(paths[:n]) + more


FILE_ORDER = (
    ChangeClass.SCHEMA_MIGRATION, ChangeClass.DEPENDENCY_UPDATE, ChangeClass.MONITORING,
    ChangeClass.DOCUMENTATION,
)


def file_class(path: str, rules: FreezeRules) -> ChangeClass | None:
    """The first class whose path patterns match (schema, dependency, monitoring, docs); None: code."""
    for cls in FILE_ORDER:
        if any(path_matches(path, pat) for pat in rules.paths.get(cls, ())):
            return cls
    return None


def change_class(pr: PullRequest, files: Sequence[str], rules: FreezeRules) -> tuple[ChangeClass, str]:
    """The PR's change class and why (see the module docstring for the order)."""
    by_file: dict[ChangeClass | None, list[str]] = {}
    for f in files:
        by_file.setdefault(file_class(f, rules), []).append(f)
    docs_only = bool(files) and set(by_file) == {ChangeClass.DOCUMENTATION}

    schema, deps = ChangeClass.SCHEMA_MIGRATION, ChangeClass.DEPENDENCY_UPDATE
    mon, doc = ChangeClass.MONITORING, ChangeClass.DOCUMENTATION
    if schema in by_file:
        return schema, f"changes migration paths: {_short(by_file[schema])}"
    by_label = _label_classes(pr, rules)
    if schema in by_label:
        return schema, f"label '{by_label[schema]}'"
    if not docs_only:
        by_label.pop(ChangeClass.DOCUMENTATION, None)
    labelled = _first(by_label)
    if labelled is not None:
        return labelled, f"label '{by_label[labelled]}'"
    if docs_only:
        return ChangeClass.DOCUMENTATION, "documentation only"

    titled = _title_class(pr.title, rules)
    if titled is not None and titled[0] is not ChangeClass.DOCUMENTATION:
        return titled[0], f"title says '{titled[1]}'"
    if deps in by_file:
        return deps, f"changes dependency files: {_short(by_file[deps])}"
    if mon in by_file and set(by_file) <= {mon, doc}:
        return mon, f"monitoring/alert files only: {_short(by_file[mon])}"
    if not files:
        return ChangeClass.FEATURE, "no changed files seen and no allowed label: treated as a feature"
    return ChangeClass.FEATURE, "code change with no allowed label or title: treated as a new feature"


def classify(
    pr: PullRequest, files: Sequence[str], rules: FreezeRules, *, freeze_active: bool,
    market_open: bool = False,
) -> Classification:
    """Class, allowed or not, and a one-line reason."""
    cls, why = change_class(pr, files, rules)
    if cls is ChangeClass.SCHEMA_MIGRATION and market_open:
        return Classification(cls, False, f"schema migration ({why}) blocked during market hours")
    if not freeze_active:
        return Classification(cls, True, f"{cls.value} ({why}); no freeze active")
    if cls in rules.allowed:
        return Classification(cls, True, f"{cls.value} ({why}) is allowed during the freeze")
    if cls in rules.blocked:
        return Classification(cls, False, f"{cls.value} ({why}) is blocked during the freeze")
    return Classification(cls, False, f"{cls.value} ({why}) is not on the freeze's allowed list")


# --------------------------------------------------------------------------- the freeze's own record

FreezeStatus = Literal["starting", "active", "ending", "ended"]


@dataclass
class FreezeRecord:
    """What one change freeze did, kept between `freeze start` and `freeze end` (a `FreezeStore`).
    PR numbers are sorted lists so the stored JSON stays readable."""

    repo: str
    release: str
    label: str
    started_at: str
    status: FreezeStatus = "starting"
    to_label: list[int] = field(default_factory=list)  # intent: open PRs without the label at start
    labelled: list[int] = field(default_factory=list)  # confirmed: this freeze put the label on
    held_by_hand: list[int] = field(default_factory=list)  # had the label before the freeze
    released: list[int] = field(default_factory=list)  # end took the label off
    already_released: list[int] = field(default_factory=list)  # label gone before end got there
    active_at: str | None = None
    ended_at: str | None = None
    last_error: str | None = None
    version: int = 1

    @property
    def active(self) -> bool:
        return self.status in ("starting", "active", "ending")

    def add(self, name: str, numbers: Iterable[int]) -> None:
        setattr(self, name, sorted(set(getattr(self, name)) | set(numbers)))

    @property
    def ours(self) -> list[int]:
        """PRs whose label belongs to this freeze (labelled, or meant to be and maybe landed)."""
        return sorted((set(self.labelled) | set(self.to_label)) - set(self.held_by_hand))
