"""Who is in a run's war room (the plan's `war_room`): who may hold the incident commander's role,
who holds it at the start, the members and the observers. Pure data, validated."""

from __future__ import annotations

from pydantic import field_validator, model_validator

from runofshow.domain.model import FrozenModel


class WarRoom(FrozenModel):
    """Who is in the war room. `incident_commanders` may hold the IC role; `ic` is the one who holds
    it at the start (default: any of them, until one hands over); `members` write parking-lot notes
    and may be handed the IC role; `observers` only read. The web server gives these people their
    role for the run (a token's own role counts for people the plan does not name)."""

    incident_commanders: tuple[str, ...] = ("ic-on-call",)
    ic: str | None = None
    members: tuple[str, ...] = ()
    observers: tuple[str, ...] = ()

    @field_validator("incident_commanders")
    @classmethod
    def _some(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError("name at least one incident commander")
        return v

    @field_validator("incident_commanders", "members", "observers")
    @classmethod
    def _names(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        names = tuple(" ".join(n.split()) for n in v)
        if any(not n for n in names):
            raise ValueError("a name is empty")
        seen = [n.casefold() for n in names]
        twice = sorted({n for n in seen if seen.count(n) > 1})
        if twice:
            raise ValueError(f"'{twice[0]}' is named twice")
        return names

    @model_validator(mode="after")
    def _roles(self) -> WarRoom:
        ics = {n.casefold() for n in self.incident_commanders}
        if self.ic is not None and " ".join(self.ic.split()).casefold() not in ics:
            raise ValueError(f"ic: '{self.ic}' is not one of incident_commanders")
        writers = ics | {n.casefold() for n in self.members}
        both = [n for n in self.observers if n.casefold() in writers]
        if both:
            raise ValueError(f"observers: '{both[0]}' is also an incident commander or member")
        if self.members and any(n.casefold() in ics for n in self.members):
            raise ValueError("members: an incident commander is listed again as a member")
        return self

    def role_of(self, name: str) -> str | None:
        """'ic' (may hold the IC role), 'member', 'observer', or None for a name the plan does not name."""
        key = " ".join(name.split()).casefold()
        for role, names in (("ic", self.incident_commanders), ("member", self.members),
                            ("observer", self.observers)):
            if any(n.casefold() == key for n in names):
                return role
        return None


__all__ = ["WarRoom"]
