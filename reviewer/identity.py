"""Episode keys read from a note's text: who the patient is, and where the note sits in a plan of care.

The reading path (`extract.py`) does not read these yet, so the program reads them here, each with the
span of the note it came from (offsets into the note text, checked to hold the value exactly):
- patient identity as the note writes it: the MRN, else the name plus the date of birth;
- whether the document is an initial evaluation, a progress report or a re-evaluation (its title line);
- the plan of care's certification dates ("POC 02/18/25 - 04/15/25", "certified through 05/15/2025");
- an authorization number and the visits authorised ("Auth # UHC-55821, 12 visits authorized").

Identifiers are protected health information. `patient_keys` turns them into keyed hashes (HMAC-SHA256
with a per-install secret, `install_secret`), which is all the grouping needs; the identifiers
themselves are never stored, logged or written out, only the offsets where the note holds them.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from datetime import date, datetime
from pathlib import Path

from pydantic import BaseModel, Field

from reviewer.schema import Evidence

IDENTITY_READER_VERSION = "1"

_DATE = r"(\d{1,2}/\d{1,2}/\d{2,4}|\d{4}-\d{2}-\d{2})"
_DATE_FORMATS = ("%m/%d/%Y", "%m/%d/%y", "%Y-%m-%d")
_RANGE_SEP = r"\s*(?:-|–|—|to|through|thru)\s*"

_MRN_RE = re.compile(
    r"\b(?:MRN|Med(?:ical)?\s*Rec(?:ord)?\s*(?:#|No\.?|Number))\s*[:#]?\s*([A-Z0-9][A-Z0-9-]{3,19})\b", re.I
)
_NAME_RE = re.compile(
    r"^[ \t]*(?:Patient(?:\s+name)?|Pt(?:\s+name)?|Name)\s*[:.]\s*([A-Z][A-Za-z.'-]*(?:[ ,]+[A-Z][A-Za-z.'-]*){0,3})",
    re.M,
)
_DOB_RE = re.compile(r"\b(?:DOB|D\.O\.B\.|Date\s+of\s+birth)\s*[:.]?\s*" + _DATE, re.I)
_DOS_RE = re.compile(r"\b(?:DOS|Date\s+of\s+service|Visit\s+date|Date)\s*[:.]?\s*" + _DATE, re.I)
_TITLE_RE = re.compile(
    r"^[ \t]*(?:(?:PT|OT|SLP|Physical\s+Therapy|Occupational\s+Therapy)\s+)?"
    r"(Initial\s+Evaluation|Evaluation|Progress\s+Report|Progress\s+Note|Re-?evaluation|Recertification)"
    r"(?:\s*(?:[-–:/|(].*)?)?$",
    re.I | re.M,
)
_CERT_THROUGH_RE = re.compile(r"\bcert(?:ified|ification)?\s+(?:through|thru|until|to|ends?)\s*:?\s*" + _DATE, re.I)
_CERT_RANGE_RE = re.compile(
    r"\b(?:POC|Plan\s+of\s+care|Cert(?:ification)?(?:\s+period)?|Certified)\s*(?:dates?|period)?\s*[:(]?\s*"
    + _DATE
    + _RANGE_SEP
    + _DATE,
    re.I,
)
_AUTH_NUMBER_RE = re.compile(r"\b(?:Auth(?:orization)?)\s*(?:#|No\.?|Number)\s*:?\s*([A-Z0-9][A-Z0-9-]{3,24})\b", re.I)
_VISITS_AUTHORISED_RE = re.compile(
    r"\b(\d{1,3})\s+visits?\s+(?:authori[sz]ed|approved)\b|\b(?:authori[sz]ed|approved)\s*:?\s*(\d{1,3})\s+visits?\b",
    re.I,
)
_TITLE_LINES = 8  # a document's title sits in its first lines; later mentions ("progress report due") are not titles


class Span(BaseModel):
    """Where an identifier sits in the note: offsets only, never its text."""

    supports: str
    start: int
    end: int


class Keyed(BaseModel):
    """A value the episode rules read, with the note text it came from."""

    value: str
    evidence: Evidence


class EpisodeKeys(BaseModel):
    """What groups a note into an episode and places it in it. Nothing here identifies a patient."""

    identity_spans: list[Span] = Field(default_factory=list, description="where the MRN, name and DOB sit")
    date_of_service: Keyed | None = None
    document_kind: Keyed | None = Field(default=None, description="evaluation, progress_report or reevaluation")
    certified_from: Keyed | None = None
    certified_through: Keyed | None = None
    authorization_number: Keyed | None = Field(default=None, description="its value is a keyed hash")
    visits_authorized: Keyed | None = None


class Identity(BaseModel):
    """The identifiers of one note, in memory only: hash them with `patient_keys` and drop them."""

    mrn: str | None = None
    name: str | None = None
    date_of_birth: date | None = None


def read_date(text: str) -> date | None:
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def read_identity(text: str) -> tuple[Identity, list[Span]]:
    """The patient identifiers the note writes, and where it writes them."""
    spans: list[Span] = []
    identity = Identity()
    if match := _MRN_RE.search(text):
        identity.mrn = match.group(1).upper()
        spans.append(Span(supports="mrn", start=match.start(1), end=match.end(1)))
    if match := _NAME_RE.search(text):
        name = re.split(r"\s{2,}|\t", match.group(1).strip())[0].strip(" ,")
        identity.name = name
        spans.append(Span(supports="name", start=match.start(1), end=match.start(1) + len(name)))
    if (match := _DOB_RE.search(text)) and (born := read_date(match.group(1))):
        identity.date_of_birth = born
        spans.append(Span(supports="date_of_birth", start=match.start(1), end=match.end(1)))
    return identity, spans


def read_episode_keys(text: str, *, secret: bytes) -> tuple[EpisodeKeys, list[str]]:
    """The episode keys of a note and its patient keys (keyed hashes; empty when no identity is written)."""
    identity, spans = read_identity(text)
    keys = EpisodeKeys(identity_spans=spans)
    keys.date_of_service = _first_date(text, _DOS_RE, "date_of_service")
    head = "\n".join(text.splitlines()[:_TITLE_LINES])
    if match := _TITLE_RE.search(head):
        kind = re.sub(r"[\s-]+", "", match.group(1).lower())
        value = {"initialevaluation": "evaluation", "progressnote": "progress_report", "progressreport": "progress_report",
                 "recertification": "reevaluation"}.get(kind, kind)  # fmt: skip
        keys.document_kind = Keyed(value=value, evidence=_evidence(text, match.start(1), match.end(1), "document_kind"))
    if match := _CERT_RANGE_RE.search(text):
        keys.certified_from = _keyed_date(text, match, 1, "certified_from")
        keys.certified_through = _keyed_date(text, match, 2, "certified_through")
    if match := _CERT_THROUGH_RE.search(text):
        keys.certified_through = _keyed_date(text, match, 1, "certified_through")
    if match := _AUTH_NUMBER_RE.search(text):
        digest = keyed_hash(secret, "auth", match.group(1).upper())
        keys.authorization_number = Keyed(
            value=digest,
            evidence=Evidence(
                text="", start=match.start(1), end=match.end(1), match="exact", supports="authorization_number"
            ),
        )
    if match := _VISITS_AUTHORISED_RE.search(text):
        group = 1 if match.group(1) else 2
        keys.visits_authorized = Keyed(
            value=match.group(group), evidence=_evidence(text, match.start(), match.end(), "visits_authorized")
        )
    return keys, patient_keys(identity, secret)


def patient_keys(identity: Identity, secret: bytes) -> list[str]:
    """Keyed hashes of the MRN and of name + date of birth: notes sharing any one are one patient."""
    found = []
    if identity.mrn:
        found.append(keyed_hash(secret, "mrn", identity.mrn))
    if identity.name and identity.date_of_birth:
        name = " ".join(re.sub(r"[^a-z ]", " ", identity.name.lower()).split())
        found.append(keyed_hash(secret, "name_dob", f"{name}|{identity.date_of_birth.isoformat()}"))
    return found


def keyed_hash(secret: bytes, kind: str, value: str) -> str:
    return hmac.new(secret, f"{kind}\x1f{value}".encode(), hashlib.sha256).hexdigest()


def install_secret(path: Path) -> bytes:
    """The per-install secret of the keyed hashes: read from `path`, created there (mode 600) on first use."""
    path = Path(path).expanduser()
    if path.exists():
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_bytes(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(value.hex())
    return value


def _first_date(text: str, pattern: re.Pattern[str], supports: str) -> Keyed | None:
    for match in pattern.finditer(text):
        if read_date(match.group(1)):
            return _keyed_date(text, match, 1, supports)
    return None


def _keyed_date(text: str, match: re.Match[str], group: int, supports: str) -> Keyed | None:
    written = read_date(match.group(group))
    if written is None:
        return None
    return Keyed(value=written.isoformat(), evidence=_evidence(text, match.start(group), match.end(group), supports))


def _evidence(text: str, start: int, end: int, supports: str) -> Evidence:
    """A span of the note, checked to hold what it says (an exact match by construction)."""
    quoted = text[start:end]
    if not quoted or text.find(quoted, start) != start:
        raise ValueError("evidence span does not hold its text")
    return Evidence(text=quoted, start=start, end=end, match="exact", supports=supports)
