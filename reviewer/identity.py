"""Episode keys read from a note's text: who the patient is, and where the note sits in a plan of care.

The extraction (`extract.py`) calls `read_episode_keys`, so the keys travel in `Extraction.episode`
with their evidence, computed and checked by the program like every other value:
- where the note writes the patient's identity: the MRN, the name, the date of birth;
- whether the document is an initial evaluation, a progress report or a re-evaluation (its title line);
- the plan of care's certification dates ("POC 02/18/25 - 04/15/25", "certified through 05/15/2025");
- an authorization number (where it is written) and the visits authorised ("12 visits authorized").
The date of service and the visit number are the extraction's own. A key the note writes with two
different values is uncertain: it is left out and reported, so no episode finding rests on it.

Identifiers are protected health information. The extraction holds only their offsets; `patient_keys`
reads them at those offsets and turns them into keyed hashes (HMAC-SHA256 with a per-install secret,
`install_secret`), which is all the grouping needs. The identifiers are never stored, logged or
written out.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import unicodedata
from datetime import date
from pathlib import Path

from pydantic import BaseModel

from reviewer import parsing
from reviewer.schema import EpisodeKeys, Evidence, Grounded, IdentitySpan, Uncertain

_MRN_RE = re.compile(
    r"\b(?:MRN|Med(?:ical)?\s*Rec(?:ord)?\s*(?:#|No\.?|Number))\s*[:#]?\s*([A-Z0-9][A-Z0-9-]{3,19})\b", re.I
)
_NAME_RE = re.compile(
    r"^[ \t]*(?:Patient(?:\s+name)?|Pt(?:\s+name)?|Name)\s*[:.]\s*([A-Z][A-Za-z.'-]*(?:[ ,]+[A-Z][A-Za-z.'-]*){0,3})",
    re.M,
)
_DOB_RE = re.compile(r"\b(?:DOB|D\.O\.B\.|Date\s+of\s+birth)\s*[:.]?\s*" + parsing.DATE_PATTERN, re.I)
_TITLE_RE = re.compile(
    r"^[ \t]*(?:(?:PT|OT|SLP|Physical\s+Therapy|Occupational\s+Therapy)\s+)?"
    r"(Initial\s+Evaluation|Evaluation|Progress\s+Report|Progress\s+Note|Re-?evaluation|Recertification)"
    r"(?:\s*(?:[-–:/|(].*)?)?$",
    re.I | re.M,
)
_AUTH_NUMBER_RE = re.compile(r"\b(?:Auth(?:orization)?)\s*(?:#|No\.?|Number)\s*:?\s*([A-Z0-9][A-Z0-9-]{3,24})\b", re.I)
_VISITS_AUTHORISED_RE = re.compile(
    r"\b(\d{1,3})\s+visits?\s+(?:authori[sz]ed|approved)\b|\b(?:authori[sz]ed|approved)\s*:?\s*(\d{1,3})\s+visits?\b",
    re.I,
)
_TITLE_LINES = 8  # a document's title sits in its first lines; later mentions ("progress report due") are not titles
_KINDS = {"initialevaluation": "evaluation", "progressnote": "progress_report", "progressreport": "progress_report",
          "recertification": "reevaluation"}  # fmt: skip


def read_episode_keys(text: str) -> tuple[EpisodeKeys, list[Uncertain]]:
    """The episode keys the note writes, and the keys it writes with two different values (left out)."""
    keys = EpisodeKeys(identity_spans=_identity_spans(text))
    uncertain: list[Uncertain] = []
    head = "\n".join(text.splitlines()[:_TITLE_LINES])
    if match := _TITLE_RE.search(head):
        written = re.sub(r"[\s-]+", "", match.group(1).lower())
        kind = _KINDS.get(written, written)
        keys.document_kind = Grounded[str](
            value=kind, evidence=_evidence(text, match.start(1), match.end(1), "document_kind")
        )
    periods = [(start, end) for start, end in parsing.plan_of_care_periods(text) if _iso(start) and _iso(end)]
    through = [found for found in parsing.certified_through(text) if _iso(found)]
    ends = through or [end for _, end in periods]
    if len({_iso(found) for found in ends}) > 1 or len({_iso(start) for start, _ in periods}) > 1:
        uncertain.append(_conflict("certification", "certification periods", [*ends, *(s for s, _ in periods)]))
    else:
        if periods:
            keys.certified_from = _keyed_date(text, periods[0][0], "certified_from")
        if ends:
            keys.certified_through = _keyed_date(text, ends[0], "certified_through")
    authorised = [(m, int(m.group(1) or m.group(2))) for m in _VISITS_AUTHORISED_RE.finditer(text)]
    if len({n for _, n in authorised}) > 1:
        uncertain.append(_conflict("visits_authorized", "numbers of visits authorized", [(str(n), m.start(), m.end())
                                                                                          for m, n in authorised]))  # fmt: skip
    elif authorised:
        match, number = authorised[0]
        keys.visits_authorized = Grounded[int](
            value=number, evidence=_evidence(text, match.start(), match.end(), "visits_authorized")
        )
    mrns = {m.group(1).upper() for m in _MRN_RE.finditer(text)}
    if len(mrns) > 1:
        keys.identity_spans = [s for s in keys.identity_spans if s.supports != "mrn"]
        uncertain.append(
            Uncertain(
                field="mrn",
                reason=f"the note writes {len(mrns)} different MRNs; the patient is joined by name and date of birth",
            )
        )
    return keys, uncertain


class Identity(BaseModel):
    """The identifiers of one note, in memory only: hash them with `patient_keys` and drop them."""

    mrn: str | None = None
    name: str | None = None
    date_of_birth: date | None = None


def identity_at(text: str, keys: EpisodeKeys) -> Identity:
    """The identifiers the note writes at the offsets its episode keys give."""
    mrn, name, born = (keys.span(kind) for kind in ("mrn", "name", "date_of_birth"))
    return Identity(
        mrn=text[mrn.start : mrn.end].upper() if mrn else None,
        name=text[name.start : name.end] if name else None,
        date_of_birth=parsing.read_date(text[born.start : born.end]) if born else None,
    )


def authorization_key(text: str, keys: EpisodeKeys, secret: bytes) -> str | None:
    """The keyed hash of the authorization number the note writes, if it writes one."""
    span = keys.span("authorization_number")
    return keyed_hash(secret, "auth", text[span.start : span.end].upper()) if span else None


def redact_identifiers(text: str, keys: EpisodeKeys) -> str:
    """`text` with the patient's identifiers masked at the same length (digits to 0, letters to X or
    x, so offsets stay valid): the spans the keys give, and every other whole-word occurrence of the
    MRN, the authorization number, the date of birth and each part of the name. An identifier the
    keys do not locate (a name written only in the narrative) is not found."""
    return mask_words(text, identifier_words(text, keys), spans=[(s.start, s.end) for s in keys.identity_spans])


def identifier_words(text: str, keys: EpisodeKeys) -> set[str]:
    """The identifiers the keys locate in `text`, a name split into its parts."""
    words: set[str] = set()
    for span in keys.identity_spans:
        written = text[span.start : span.end]
        if span.supports == "name":
            words.update(part for part in re.split(r"[\s,.]+", written) if len(part) >= 2)
        elif written:
            words.add(written)
    return words


def mask_words(text: str, words: set[str], spans: list[tuple[int, int]] | None = None) -> str:
    """`text` with `spans` and each whole-word occurrence of `words` (any case) masked at the same length."""
    chars = list(text)
    found = list(spans or [])
    for word in words:
        pattern = r"(?<![^\W_])" + re.escape(word) + r"(?![^\W_])"  # "_" separates words: "briggs_walter_0304"
        found += [(m.start(), m.end()) for m in re.finditer(pattern, text, re.I)]
    for start, end in found:
        for index in range(start, end):
            chars[index] = _MASK.get(unicodedata.category(chars[index])[0], chars[index])
            if chars[index] == "X" and text[index].islower():
                chars[index] = "x"
    return "".join(chars)


_MASK = {"N": "0", "L": "X"}


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


def _identity_spans(text: str) -> list[IdentitySpan]:
    spans = []
    if match := _MRN_RE.search(text):
        spans.append(IdentitySpan(supports="mrn", start=match.start(1), end=match.end(1)))
    if match := _NAME_RE.search(text):
        name = re.split(r"\s{2,}|\t", match.group(1).strip())[0].strip(" ,")
        spans.append(IdentitySpan(supports="name", start=match.start(1), end=match.start(1) + len(name)))
    if (match := _DOB_RE.search(text)) and parsing.read_date(match.group(1)):
        spans.append(IdentitySpan(supports="date_of_birth", start=match.start(1), end=match.end(1)))
    if match := _AUTH_NUMBER_RE.search(text):
        spans.append(IdentitySpan(supports="authorization_number", start=match.start(1), end=match.end(1)))
    return spans


def _iso(found: tuple[str, int, int]) -> str | None:
    written = parsing.read_date(found[0])
    return written.isoformat() if written else None


def _keyed_date(text: str, found: tuple[str, int, int], supports: str) -> Grounded[str] | None:
    """A date as an ISO value, with the span where the note writes it."""
    value = _iso(found)
    return Grounded[str](value=value, evidence=_evidence(text, found[1], found[2], supports)) if value else None


def _conflict(field: str, what: str, found: list[tuple[str, int, int]]) -> Uncertain:
    values = sorted({value for value, _, _ in found})
    return Uncertain(field=field, reason=f"the note gives different {what} ({', '.join(values)}); none is used")


def _evidence(text: str, start: int, end: int, supports: str) -> Evidence:
    """A span of the note, checked to hold what it says (an exact match by construction)."""
    quoted = text[start:end]
    if not quoted or text.find(quoted, start) != start:
        raise ValueError("evidence span does not hold its text")
    return Evidence(text=quoted, start=start, end=end, match="exact", supports=supports)
