"""Who is in the war room, and how they proved it: identities, roles and API tokens.

    Identity(name, subject, proof, role)   proof: token (an API token), oidc (a company IdP), slack (a
                                           signed Slack click) or local
    create_token(store, name, role)        -> (the token, shown once; its record, hash only)
    identify(store, token)                 -> the Identity of a live token, or None
    oidc_identity(claims, roles, ics)      -> the Identity a company IdP's verified ID token proves
    decide_as(identity, run_id, ...)       the incident commander's decision, note and handover (the
    note_as(identity, run_id, text, ...)   same use cases as `runofshow decide` / `note` / `handover`),
    handover_as(identity, run_id, to, ...) with the identity recorded in the event's payload
    local_identity(name, os_user, role)    who the local CLI is: `--as NAME`, proven only as local:<os-user>
    run_role(identity, plan, state)        the role in one run: the plan's war room first (the run's
                                           current IC is ic, its other incident commanders and members
                                           member, its observers observer), else the identity's own
    feedback_as(identity, run_id, ...)     `runofshow feedback` with the identity recorded
    refuse(ledger, run_id, ...)            an `ic_refused` event for a request without identity (401)
                                           or with the wrong role (403), naming who tried

Roles: `ic` decides (and writes notes, hands over), `member` writes parking-lot notes, `observer`
reads. A token carries a role; for people the plan's `war_room` names, the plan's role counts (so the
role follows an IC handover), and the use case still decides who may decide a run, so a token with
role `ic` for a name the plan does not list is refused.

Only a token's sha256 is stored: tokens are 256 random bits, so a fast hash is enough (nothing to
guess), and a stolen ledger holds nothing that logs in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from runofshow.app.run.events import EventKind
from runofshow.app.run.state import RunState
from runofshow.app.warroom import commander
from runofshow.app.warroom.feedback import give_feedback
from runofshow.domain.plan import Plan
from runofshow.errors import InputError
from runofshow.ports import ApiToken, Ledger, LedgerEvent, TokenStore

TOKEN_PREFIX = "ros_"
#: the events that carry who asked (the use cases' own payload, plus `identity`)
IDENTIFIED_KINDS = frozenset(
    {
        EventKind.IC_DECISION.value,
        EventKind.IC_REFUSED.value,
        EventKind.IC_HANDOVER.value,
        EventKind.PARKING_LOT.value,
        EventKind.ROLLBACK_STARTED.value,
        EventKind.USER_FEEDBACK.value,
    }
)


class Role(StrEnum):
    IC = "ic"
    MEMBER = "member"
    OBSERVER = "observer"

    @property
    def may_decide(self) -> bool:
        return self is Role.IC

    @property
    def may_note(self) -> bool:
        return self in (Role.IC, Role.MEMBER)


class Proof(StrEnum):
    TOKEN = "token"
    OIDC = "oidc"
    LOCAL = "local"
    SLACK = "slack"  # a signed click on the war room's Slack buttons


@dataclass(frozen=True)
class Identity:
    """A person who proved who they are. `subject` is stable (the token id, the IdP's `sub`)."""

    name: str
    subject: str
    proof: Proof
    role: Role

    def payload(self) -> dict[str, str]:
        """What the ledger keeps of it: never a secret."""
        return {
            "name": self.name,
            "subject": self.subject,
            "proof": self.proof.value,
            "role": self.role.value,
        }

    def to_session(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items()}

    @classmethod
    def from_session(cls, data: Mapping[str, Any]) -> Identity | None:
        try:
            return cls(str(data["name"]), str(data["subject"]), Proof(data["proof"]), Role(data["role"]))
        except (KeyError, ValueError, TypeError):
            return None


def role_of(text: str) -> Role:
    try:
        return Role(text.strip().lower())
    except ValueError:
        raise InputError(f"--role: '{text}' is not one of {', '.join(r.value for r in Role)}") from None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.strip().encode("utf-8")).hexdigest()


def create_token(
    store: TokenStore, name: str, role: str, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> tuple[str, ApiToken]:
    """A new API token for `name` with `role`: the token (shown once) and what is stored."""
    name = " ".join(name.split())
    if not name:
        raise InputError("--name: say whose token it is")
    token_id = secrets.token_hex(4)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(
        token_id=token_id, name=name, role=role_of(role).value, token_hash=token_hash(token), created_at=now()
    )
    store.add_token(record)
    return token, record


def revoke_token(
    store: TokenStore, token_id: str, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> ApiToken:
    """Revoke the token `token_id` (as `token list` shows it); InputError when there is none live."""
    found = next((t for t in store.tokens() if t.token_id == token_id.strip()), None)
    if found is None:
        raise InputError(f"no token '{token_id}' (see runofshow token list)")
    if found.revoked_at is not None or not store.revoke_token(found.token_id, now()):
        raise InputError(f"token '{token_id}' ({found.name}) is already revoked")
    return found


def identify(store: TokenStore, token: str | None) -> Identity | None:
    """The identity a presented token proves, or None (unknown, revoked, malformed)."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    digest = token_hash(token)
    record = store.token_by_hash(digest)
    if record is None or record.revoked_at is not None or not hmac.compare_digest(record.token_hash, digest):
        return None
    return Identity(record.name, f"token:{record.token_id}", Proof.TOKEN, Role(record.role))


def oidc_identity(
    claims: Mapping[str, Any], roles: Mapping[str, str], incident_commanders: tuple[str, ...] = ()
) -> Identity:
    """The identity an IdP's verified ID token proves: the name is `preferred_username`, else the
    email, else the subject; the role is the one `roles` gives the email or the name, else `ic` for
    the plan's incident commanders, else observer."""
    sub = str(claims.get("sub") or "").strip()
    if not sub:
        raise InputError("OIDC: the ID token has no subject")
    email = str(claims.get("email") or "").strip()
    name = " ".join(str(claims.get("preferred_username") or email or sub).split())
    keys = [k.casefold() for k in (email, name) if k]
    by_key = {k.strip().casefold(): v for k, v in roles.items()}
    role = next((role_of(by_key[k]) for k in keys if k in by_key), None)
    if role is None:
        ics = {ic.casefold() for ic in incident_commanders}
        role = Role.IC if any(k in ics for k in keys) else Role.OBSERVER
    return Identity(name, f"oidc:{sub}", Proof.OIDC, role)


def still_valid(store: TokenStore, identity: Identity) -> bool:
    """A session's token identity still stands (its token has not been revoked since login)."""
    if identity.proof is not Proof.TOKEN:
        return True
    token_id = identity.subject.removeprefix("token:")
    return any(t.token_id == token_id and t.revoked_at is None for t in store.tokens())


class IdentifiedLedger:
    """The ledger as one identified person writes to it: the war-room events they cause carry
    `identity`. Everything else passes through."""

    def __init__(self, ledger: Ledger, identity: Identity) -> None:
        self._ledger = ledger
        self._identity = identity
        self.name = getattr(ledger, "name", "the ledger")

    def append(self, run_id: str, kind: str, payload: Mapping[str, Any], at: datetime) -> LedgerEvent:
        if kind in IDENTIFIED_KINDS:
            payload = {**payload, "identity": self._identity.payload()}
        return self._ledger.append(run_id, kind, payload, at)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ledger, name)


def decide_as(
    identity: Identity, run_id: str, action: str, reason: str, *, ledger: Ledger, **kwargs: Any
) -> commander.Decided:
    """`runofshow decide` for an identified person (the same use case, the same rules)."""
    result: commander.Decided = commander.ic_decide(
        run_id, action, by=identity.name, reason=reason, ledger=IdentifiedLedger(ledger, identity), **kwargs
    )
    return result


def note_as(identity: Identity, run_id: str, text: str, *, ledger: Ledger) -> LedgerEvent:
    """`runofshow note` for an identified person."""
    return commander.note(run_id, text, by=identity.name, ledger=IdentifiedLedger(ledger, identity))


def handover_as(
    identity: Identity, run_id: str, to: str, reason: str, *, ledger: Ledger
) -> commander.Decided:
    """`runofshow handover` for an identified person."""
    result: commander.Decided = commander.handover(run_id, to, by=identity.name, reason=reason,
                                                   ledger=IdentifiedLedger(ledger, identity))
    return result


def local_identity(name: str, os_user: str, role: Role = Role.IC) -> Identity:
    """The local CLI's identity: the name typed after `--as`, proven only by the OS account it ran under
    (`local:<os-user>`), so an auditor can tell it from a verified one."""
    return Identity(" ".join(name.split()), f"local:{os_user or 'unknown'}", Proof.LOCAL, role)


def run_role(identity: Identity, plan: Plan, state: RunState | None = None) -> Role:
    """The identity's role in one run: the plan's war room first, else the identity's own role."""
    if commander.holds_ic(plan, state, identity.name):
        return Role.IC
    named = plan.war_room.role_of(identity.name)
    if named is None:
        return identity.role
    return Role.OBSERVER if named == "observer" else Role.MEMBER


def feedback_as(identity: Identity, run_id: str, sentiment: str, note: str, *, ledger: Ledger) -> LedgerEvent:
    """`runofshow feedback` for an identified person."""
    ledger = IdentifiedLedger(ledger, identity)
    return give_feedback(run_id, sentiment, note=note, by=identity.name, ledger=ledger)


def refuse(
    ledger: Ledger,
    run_id: str,
    action: str,
    identity: Identity | None,
    why: str,
    *,
    source: str | None = None,
    suppressed: int = 0,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> LedgerEvent:
    """Record a refused request (401: nobody proved who they are; 403: the wrong role); an anonymous
    one with its source address and how many more from there were not recorded one by one."""
    payload: dict[str, Any] = {
        "action": action,
        "by": identity.name if identity else "(anonymous)",
        "reason": "",
        "why": why,
        "t_s": None,
    }
    if identity is not None:
        payload["identity"] = identity.payload()
    if source is not None:
        payload["source"] = source
    if suppressed:
        payload["suppressed"] = suppressed
    return ledger.append(run_id, EventKind.IC_REFUSED.value, payload, now())


__all__ = [
    "IDENTIFIED_KINDS",
    "IdentifiedLedger",
    "Identity",
    "Proof",
    "Role",
    "TOKEN_PREFIX",
    "create_token",
    "decide_as",
    "handover_as",
    "feedback_as",
    "identify",
    "local_identity",
    "note_as",
    "refuse",
    "revoke_token",
    "role_of",
    "run_role",
    "still_valid",
    "token_hash",
]
