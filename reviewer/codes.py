"""The code table (`data/codes.yaml`) and the credential lists (`data/credentials.yaml`)."""

from __future__ import annotations

import re
from functools import cache

from pydantic import BaseModel

from reviewer.data import load_yaml
from reviewer.schema import ActivityKind

CODE_PATTERN = re.compile(r"^[0-9A-Z][0-9]{4}$")


class CodeInfo(BaseModel):
    code: str
    name: str
    timed: bool
    passive: bool = False
    kind: ActivityKind | None = None


@cache
def code_table() -> dict[str, CodeInfo]:
    return {code: CodeInfo(code=code, **fields) for code, fields in load_yaml("codes.yaml")["codes"].items()}


def code_info(code: str) -> CodeInfo | None:
    return code_table().get(normalize_code(code))


def is_timed(code: str) -> bool:
    """A 15-minute timed code (its minutes count toward total timed minutes)."""
    info = code_info(code)
    return info is not None and info.timed


def is_untimed(code: str) -> bool:
    """A known code billed once per session whatever its minutes."""
    info = code_info(code)
    return info is not None and not info.timed


def code_for_kind(kind: str) -> str | None:
    """The code that describes an activity kind (exercise -> 97110, balance -> 97112, ...)."""
    return next((info.code for info in code_table().values() if info.kind == kind), None)


def normalize_code(code: str) -> str:
    return code.strip().upper()


def normalize_modifier(modifier: str) -> str:
    return modifier.strip().strip("-").upper()


def normalize_credential(credential: str) -> str:
    """Compare credentials without dots or spaces: "P.T." -> "PT", "OTR / L" -> "OTR/L"."""
    return re.sub(r"[.\s]", "", credential).upper()


def split_credentials(credentials: list[str]) -> list[str]:
    """Credentials as listed, also when several share one string ("PT, DPT")."""
    parts = (re.split(r"[,;\s]+", re.sub(r"\s*/\s*", "/", credential)) for credential in credentials)
    return [normalize_credential(part) for group in parts for part in group if part.strip(" .")]


@cache
def professional_credentials() -> frozenset[str]:
    """Credentials that identify the clinician who furnished or supervised therapy."""
    data = load_yaml("credentials.yaml")
    names = [*data["therapist"], *data["physician"], *data["assistant"]]
    return frozenset(normalize_credential(name) for name in names)


@cache
def assistant_modifiers() -> dict[str, str]:
    """Assistant credential -> the payment modifier its involvement requires (PTA -> CQ, COTA -> CO)."""
    return {
        normalize_credential(name): modifier for name, modifier in load_yaml("credentials.yaml")["assistant"].items()
    }
