"""State -> Part A/B Medicare Administrative Contractor (`data/mac.yaml`, rules.md §7)."""

from __future__ import annotations

from functools import cache

from reviewer.data import load_yaml
from reviewer.report import Locality


@cache
def all_localities() -> dict[str, Locality]:
    """Every state, DC and inhabited territory, by its two-letter code."""
    data = load_yaml("mac.yaml")
    localities = {}
    for state, entry in data["states"].items():
        jurisdiction = data["jurisdictions"][entry["jurisdiction"]]
        notes = [entry.get("note"), jurisdiction.get("note"), f"source tag [{jurisdiction['tag']}]"]
        localities[state] = Locality(
            state=state,
            jurisdiction=entry["jurisdiction"],
            contractor=jurisdiction["contractor"],
            lcd=jurisdiction.get("lcd"),
            note="; ".join(note for note in notes if note),
        )
    return localities


@cache
def _state_names() -> dict[str, str]:
    return {entry["name"].upper(): state for state, entry in load_yaml("mac.yaml")["states"].items()}


def lookup_mac(state: str) -> Locality | None:
    """The A/B MAC for a state code or name ("TX", "texas"); None when unknown. Never raises."""
    if not isinstance(state, str):
        return None
    key = " ".join(state.replace(".", "").split()).upper()
    return all_localities().get(_state_names().get(key, key))
