"""Reviewer sign-in with bcrypt-hashed passwords: from REVIEWER_USERS and from the users table.

REVIEWER_USERS="alice:<bcrypt hash>:admin,bob:<bcrypt hash>" (make a hash with `reviewer users hash`;
the role is "reviewer" unless given); `reviewer users add NAME [--role admin]` stores one in the
database instead. A name in REVIEWER_USERS wins.

Roles: a reviewer reviews notes and works the triage queue; an admin also sees the batch dashboard,
the audit trail of all actions and the overrides export (bulk note text). After MAX_FAILED_SIGN_INS
wrong passwords within LOCKOUT a name is locked for the rest of that time, whatever the session:
the count is kept in the audit trail. Sign-ins are logged and audited with the name only (an unknown
name as "(unknown user)": it may be a password typed in the wrong field), never a password.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal

import bcrypt
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from reviewer.db import utcnow
from reviewer.triage.models import AuditEvent, User

log = logging.getLogger(__name__)

USERNAME_RE = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
MIN_PASSWORD_CHARS = 8
ROLES = ("reviewer", "admin")
MAX_FAILED_SIGN_INS = 5
LOCKOUT = timedelta(minutes=15)
UNKNOWN_USER = "(unknown user)"
_BCRYPT_MAX_BYTES = 72
# Checked against when the user is unknown, so a wrong name costs the same time as a wrong password.
_DUMMY_HASH = bcrypt.hashpw(b"not a password", bcrypt.gensalt(rounds=4))


class UserError(ValueError):
    """A user name or password that cannot be stored; the message says why."""


def hash_password(password: str) -> str:
    data = password.encode("utf-8")
    if len(password) < MIN_PASSWORD_CHARS:
        raise UserError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    if len(data) > _BCRYPT_MAX_BYTES:
        raise UserError(f"a password can have at most {_BCRYPT_MAX_BYTES} bytes (a bcrypt limit)")
    return bcrypt.hashpw(data, bcrypt.gensalt()).decode("ascii")


def password_matches(password: str, password_hash: str) -> bool:
    data = password.encode("utf-8")
    if len(data) > _BCRYPT_MAX_BYTES:
        return False
    try:
        return bcrypt.checkpw(data, password_hash.encode("ascii"))
    except ValueError:  # a malformed hash in the configuration signs nobody in
        return False


@dataclass(frozen=True)
class Account:
    password_hash: str
    role: str = "reviewer"


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in: `role` when it succeeded, else why not (the page says only "wrong")."""

    username: str
    role: str | None
    refused: Literal["wrong", "locked"] | None = None


def parse_users(spec: str) -> dict[str, Account]:
    """`"alice:hash:admin,bob:hash"` as {name: Account}; bcrypt hashes contain neither ':' nor ','."""
    users: dict[str, Account] = {}
    for entry in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, rest = entry.partition(":")
        password_hash, _, role = rest.partition(":")
        role = role.strip() or "reviewer"
        if not sep or not USERNAME_RE.match(name.strip()) or not password_hash.strip() or role not in ROLES:
            raise UserError("REVIEWER_USERS must look like 'alice:<bcrypt hash>:admin,bob:<bcrypt hash>'")
        users[name.strip()] = Account(password_hash.strip(), role)
    return users


class Accounts:
    """Who may sign in: the configured users, then the active users in the database."""

    def __init__(self, engine: Engine, configured: str = ""):
        self.engine = engine
        self.configured = parse_users(configured)

    def any(self) -> bool:
        if self.configured:
            return True
        with Session(self.engine) as session:
            return bool(session.scalar(select(func.count()).select_from(User).where(User.active)))

    def account(self, username: str) -> Account | None:
        """The active account of `username`, if there is one."""
        username = username.strip()
        if username in self.configured:
            return self.configured[username]
        with Session(self.engine) as session:
            user = session.get(User, username)
            return Account(user.password_hash, user.role) if user is not None and user.active else None

    def role(self, username: str) -> str | None:
        account = self.account(username)
        return account.role if account else None

    def authenticate(self, username: str, password: str) -> bool:
        """The password check alone: no lockout, no audit (`sign_in` is what the app calls)."""
        account = self.account(username)
        matched = password_matches(password, account.password_hash if account else _DUMMY_HASH.decode("ascii"))
        return matched and account is not None

    def sign_in(self, username: str, password: str, *, now: datetime | None = None) -> SignIn:
        """Check the password unless the name is locked; every attempt is audited and logged by name."""
        username = username.strip()
        now = now or utcnow()
        account = self.account(username)
        actor = username if account else UNKNOWN_USER
        if account is not None and self.locked(username, now=now):
            self._audit(actor, "sign_in_locked", now)
            log.warning("sign-in refused for %s: locked after %d failed attempts", actor, MAX_FAILED_SIGN_INS)
            return SignIn(username, None, "locked")
        if self.authenticate(username, password) and account is not None:
            self._audit(actor, "sign_in", now)
            log.info("sign-in of %s (%s)", actor, account.role)
            return SignIn(username, account.role)
        self._audit(actor, "sign_in_failed", now)
        log.warning("sign-in failed for %s", actor)
        return SignIn(username, None, "wrong")

    def locked(self, username: str, *, now: datetime | None = None) -> bool:
        """The last MAX_FAILED_SIGN_INS attempts all failed, within LOCKOUT of each other, and the
        last of them less than LOCKOUT ago (attempts while locked do not extend the lock)."""
        now = now or utcnow()
        query = (
            select(AuditEvent.action, AuditEvent.at)
            .where(AuditEvent.actor == username, AuditEvent.action.in_(["sign_in", "sign_in_failed"]))
            .order_by(AuditEvent.id.desc())
            .limit(MAX_FAILED_SIGN_INS)
        )
        with Session(self.engine) as session:
            recent = session.execute(query).all()
        failures = [at for action, at in recent if action == "sign_in_failed"]
        if len(failures) < MAX_FAILED_SIGN_INS or any(action == "sign_in" for action, _ in recent):
            return False
        newest, oldest = _aware(failures[0]), _aware(failures[-1])
        return newest - oldest < LOCKOUT and now - newest < LOCKOUT

    def add(self, username: str, password: str, *, actor: str, role: str = "reviewer") -> None:
        """Create the user, or set a new password (and role) for an existing one; audited, never the password."""
        if not USERNAME_RE.match(username):
            raise UserError("a user name is 1-64 letters, digits or . _ @ -")
        if role not in ROLES:
            raise UserError(f"a role is one of {', '.join(ROLES)}")
        password_hash = hash_password(password)
        with Session(self.engine) as session, session.begin():
            user = session.get(User, username)
            action = "user_add" if user is None else "user_password"
            if user is None:
                session.add(User(username=username, password_hash=password_hash, role=role, active=True))
            else:
                user.password_hash, user.role, user.active = password_hash, role, True
            after = {"username": username} if role == "reviewer" else {"username": username, "role": role}
            session.add(AuditEvent(item_id=None, actor=actor, action=action, before=None, after=after))

    def _audit(self, actor: str, action: str, at: datetime) -> None:
        with Session(self.engine) as session, session.begin():
            session.add(AuditEvent(item_id=None, actor=actor, action=action, before=None, after=None, at=at))


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)  # SQLite gives back naive UTC times
