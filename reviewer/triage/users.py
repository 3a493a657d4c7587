"""Reviewer sign-in with bcrypt-hashed passwords: from REVIEWER_USERS and from the users table.

REVIEWER_USERS="alice:<bcrypt hash>,bob:<bcrypt hash>" (make a hash with `reviewer users hash`);
`reviewer users add NAME` stores one in the database instead. A name in REVIEWER_USERS wins.
"""

from __future__ import annotations

import re

import bcrypt
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from reviewer.triage.models import AuditEvent, User

USERNAME_RE = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
MIN_PASSWORD_CHARS = 8
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


def parse_users(spec: str) -> dict[str, str]:
    """`"alice:hash,bob:hash"` as {name: hash}; bcrypt hashes contain neither ':' nor ','."""
    users: dict[str, str] = {}
    for entry in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, password_hash = entry.partition(":")
        if not sep or not USERNAME_RE.match(name.strip()) or not password_hash.strip():
            raise UserError("REVIEWER_USERS must look like 'alice:<bcrypt hash>,bob:<bcrypt hash>'")
        users[name.strip()] = password_hash.strip()
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

    def authenticate(self, username: str, password: str) -> bool:
        username = username.strip()
        stored = self.configured.get(username)
        if stored is None:
            with Session(self.engine) as session:
                user = session.get(User, username)
                stored = user.password_hash if user is not None and user.active else None
        matched = password_matches(password, stored or _DUMMY_HASH.decode("ascii"))
        return matched and stored is not None

    def add(self, username: str, password: str, *, actor: str) -> None:
        """Create the user, or set a new password for an existing one; audited, never the password."""
        if not USERNAME_RE.match(username):
            raise UserError("a user name is 1-64 letters, digits or . _ @ -")
        password_hash = hash_password(password)
        with Session(self.engine) as session, session.begin():
            user = session.get(User, username)
            action = "user_add" if user is None else "user_password"
            if user is None:
                session.add(User(username=username, password_hash=password_hash, active=True))
            else:
                user.password_hash, user.active = password_hash, True
            session.add(AuditEvent(item_id=None, actor=actor, action=action, before=None, after={"username": username}))
