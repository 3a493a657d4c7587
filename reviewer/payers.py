"""Payer profiles (`data/payers.yaml`): unit method and required modifiers per payer."""

from __future__ import annotations

from functools import cache

from pydantic import BaseModel

from reviewer.data import load_yaml
from reviewer.units import UnitMethod

DEFAULT_PAYER = "commercial"


class PayerProfile(BaseModel):
    key: str
    name: str
    unit_method: UnitMethod
    discipline_modifier_required: bool
    assistant_modifier_required: bool
    denied_pairs: list[tuple[str, str]]
    source: str


@cache
def payer_profiles() -> dict[str, PayerProfile]:
    return {key: PayerProfile(key=key, **fields) for key, fields in load_yaml("payers.yaml").items()}


def payer_keys() -> list[str]:
    """Every payer a review may name: the profiles of data/payers.yaml, the one list."""
    return list(payer_profiles())


def payer_choice_error(name: str | None) -> str | None:
    """A one-line message when `name` is not a known payer (None is the configured default)."""
    if name is None or get_payer(name) is not None:
        return None
    return f"--payer must be one of {', '.join(payer_keys())}, not {name!r}"


def default_payer() -> PayerProfile:
    """The profile for payers without one of their own (data/payers.yaml must hold it)."""
    profile = get_payer(DEFAULT_PAYER)
    if profile is None:
        raise RuntimeError(f"data/payers.yaml has no {DEFAULT_PAYER!r} profile")
    return profile


def get_payer(name: str) -> PayerProfile | None:
    """The profile for a payer key ("medicare", "commercial", "aetna", ...); None when unknown."""
    return payer_profiles().get(name.strip().lower().replace(" ", "_").replace("-", "_"))
