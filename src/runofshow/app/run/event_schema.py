"""The base of the typed ledger events (`runofshow.app.run.event_types`): `Event`, what every
kind has (the ledger row's seq and at, and t_s), and how a schema's fields go to and from a payload
(`payload_field`): tolerant on the way in (a missing key or a value of the wrong type takes the
field's default, an unknown key is ignored), exact on the way out. `OtherEvent` holds a kind this
version does not know."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from runofshow.app.run.event_parts import (
    VerdictRecord,
    alert_from_json,
    alert_json,
    opt_float,
    opt_int,
    opt_str,
    strs,
)
from runofshow.domain.tick import Alert

E = TypeVar("E", bound="Event")


def payload_field(default: Any = None, *, read: Callable[[Any], Any] | None = None,
                  write: Callable[[Any], Any] | None = None, omit_none: bool = False,
                  group: str | None = None, factory: Callable[[], Any] | None = None,
                  key: str | None = None) -> Any:
    """A payload field: `read` converts a payload value (an error: the default), `write` turns it
    back into JSON, `omit_none` leaves the key out while None, `group` nests it (`inputs`), `key`
    names it in the payload when that is not the field's name."""
    meta = {"payload": True, "read": read, "write": write, "omit_none": omit_none, "group": group,
            "key": key}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def alerts_read(value: Any) -> tuple[Alert, ...]:
    return tuple(alert_from_json(a) for a in value or ())


def alerts_write(alerts: tuple[Alert, ...]) -> list[dict[str, Any]]:
    return [alert_json(a) for a in alerts]


def verdicts_read(value: Any) -> tuple[VerdictRecord, ...]:
    return tuple(VerdictRecord.from_json(x) for x in value or ())


def verdicts_write(verdicts: tuple[VerdictRecord, ...]) -> list[dict[str, Any]]:
    return [x.to_json() for x in verdicts]


def str_field(default: str | None = None, *, omit_none: bool = False, key: str | None = None) -> Any:
    return payload_field(default, read=opt_str, omit_none=omit_none, key=key)


def float_field(default: float | None = None, *, omit_none: bool = False) -> Any:
    return payload_field(default, read=opt_float, omit_none=omit_none)


def int_field(default: int | None = None, *, omit_none: bool = False) -> Any:
    return payload_field(default, read=opt_int, omit_none=omit_none)


def strs_field() -> Any:
    """A tuple of strings (a JSON list; a lone string reads as a tuple of one)."""
    return payload_field(read=strs, write=list, factory=tuple)


@dataclass(frozen=True, kw_only=True)
class Event:
    """What every event has: the ledger row's `seq` and `at`, and `t_s` (plan seconds since T0)."""

    KIND: ClassVar[str] = ""
    seq: int = 0
    at: datetime | None = None
    t_s: float | None = float_field()

    @property
    def kind(self) -> str:
        return self.KIND

    @classmethod
    def from_payload(cls: type[E], payload: Mapping[str, Any], *, seq: int = 0,
                     at: datetime | None = None) -> E:
        kwargs: dict[str, Any] = {}
        for name, group, key, read, keep_default in _readers(cls):
            source = payload.get(group) if group else payload
            if (type(source) is not dict and not isinstance(source, Mapping)) or key not in source:
                continue
            try:
                value = read(source[key]) if read is not None else source[key]
            except (TypeError, ValueError, KeyError, AttributeError):
                continue  # a value this reader cannot take: the field's default
            if value is None and keep_default:
                continue  # None where the schema wants a value: the default
            kwargs[name] = value
        return cls(seq=seq, at=at, **kwargs)

    def to_payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in payload_fields(type(self)):
            value = getattr(self, f.name)
            if value is None and f.metadata["omit_none"]:
                continue
            write = f.metadata["write"]
            target = out.setdefault(f.metadata["group"], {}) if f.metadata["group"] else out
            if write is not None and value is not None:
                value = write(value)
            target[f.metadata["key"] or f.name] = value
        return out


_FIELDS: dict[type, tuple[dataclasses.Field[Any], ...]] = {}
_READERS: dict[type, tuple[tuple[str, str | None, str, Callable[[Any], Any] | None, bool], ...]] = {}


def _readers(cls: type) -> tuple[tuple[str, str | None, str, Callable[[Any], Any] | None, bool], ...]:
    """Per field, once per class: (name, group, payload key, reader, whether None keeps the default);
    a run page reads thousands of events, so the fields' metadata is not looked up per event."""
    found = _READERS.get(cls)
    if found is None:
        found = _READERS[cls] = tuple(
            (f.name, f.metadata["group"], f.metadata["key"] or f.name, f.metadata["read"],
             f.default is not None)  # a default_factory's field: `default` is MISSING, not None
            for f in payload_fields(cls))
    return found


def payload_fields(cls: type) -> tuple[dataclasses.Field[Any], ...]:
    found = _FIELDS.get(cls)
    if found is None:
        found = _FIELDS[cls] = tuple(f for f in dataclasses.fields(cls) if f.metadata.get("payload"))
    return found


@dataclass(frozen=True, kw_only=True)
class OtherEvent(Event):
    """An event of a kind this version does not know; its payload as it was."""

    other_kind: str = ""
    payload: Mapping[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.other_kind

    def to_payload(self) -> dict[str, Any]:
        return dict(self.payload)


__all__ = ["E", "Event", "OtherEvent", "alerts_read", "alerts_write", "float_field", "int_field",
           "payload_field", "payload_fields", "str_field", "strs_field", "verdicts_read", "verdicts_write"]
