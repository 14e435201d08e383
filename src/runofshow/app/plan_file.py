"""Reading plan.yaml: YAML -> validated Plan, every problem as `file: field.path: problem`."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from runofshow.domain.plan import Plan
from runofshow.errors import PlanError

_UNION_FIELDS = {"traffic_router", "metrics_source"}


def default_plan_text() -> str:
    """The fully commented default plan that `runofshow init` writes."""
    return resources.files("runofshow.app").joinpath("default_plan.yaml").read_text(encoding="utf-8")


def field_path(loc: tuple[int | str, ...]) -> str:
    """('stages', 2, 'weight') -> 'stages[2].weight'; drops pydantic's union tags."""
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        if (i > 0 and loc[i - 1] in _UNION_FIELDS) or "[" in part or "-" in part:
            continue  # pydantic's discriminator tag or validator name, not a field
        out += f".{part}" if out else part
    return out or "(top level)"


def _problem(err: Any) -> str:
    kind, msg = err.get("type", ""), str(err.get("msg", ""))
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "missing"
    if kind == "union_tag_invalid":
        ctx = err.get("ctx", {})
        return f"unknown kind '{ctx.get('tag')}' (expected one of {ctx.get('expected_tags')})"
    if kind == "union_tag_not_found":
        return "missing 'kind'"
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    return msg[:1].lower() + msg[1:]


def validation_problems(source: str, err: ValidationError) -> list[str]:
    return [f"{source}: {field_path(tuple(e['loc']))}: {_problem(e)}" for e in err.errors()]


def parse_plan(text: str, source: str = "plan.yaml") -> Plan:
    """Validate plan text. Raises PlanError with one line per problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as ex:
        mark = getattr(ex, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}" if mark else "(top level)"
        problem = getattr(ex, "problem", None) or str(ex).splitlines()[0]
        raise PlanError(f"{source}: {where}: invalid YAML: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PlanError(f"{source}: (top level): must be a mapping of sections, not {type(data).__name__}")
    try:
        return Plan.model_validate(data)
    except ValidationError as ex:
        problems = validation_problems(source, ex)
        raise PlanError(problems[0], problems=problems) from None


def load_plan(path: str | Path) -> Plan:
    """Read and validate a plan file. Raises PlanError (exit 2) with one line per problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanError(f"{p}: (file): no such file") from None
    except (OSError, UnicodeDecodeError) as ex:
        raise PlanError(f"{p}: (file): cannot read: {ex}") from None
    plan = parse_plan(text, source=str(path))
    from runofshow.app.query_windows import with_query_windows

    try:  # fail closed on a query that is not PromQL; the runner sets the windows it really reads
        with_query_windows(plan)
    except PlanError as ex:
        raise PlanError(f"{p}: {ex}") from None
    return plan
