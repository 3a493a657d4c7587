"""The `reviewer units` and `reviewer mac` commands, as billing staff run them."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from reviewer.cli import app
from reviewer.locality import all_localities, lookup_mac

runner = CliRunner()

STATES = [
    "AL",
    "AK",
    "AZ",
    "AR",
    "CA",
    "CO",
    "CT",
    "DE",
    "DC",
    "FL",
    "GA",
    "HI",
    "ID",
    "IL",
    "IN",
    "IA",
    "KS",
    "KY",
    "LA",
    "ME",
    "MD",
    "MA",
    "MI",
    "MN",
    "MS",
    "MO",
    "MT",
    "NE",
    "NV",
    "NH",
    "NJ",
    "NM",
    "NY",
    "NC",
    "ND",
    "OH",
    "OK",
    "OR",
    "PA",
    "RI",
    "SC",
    "SD",
    "TN",
    "TX",
    "UT",
    "VT",
    "VA",
    "WA",
    "WV",
    "WI",
    "WY",
    "AS",
    "GU",
    "MP",
    "PR",
    "VI",
]


def _json(*args: str) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_units_cms_example_3() -> None:
    out = _json("units", "--payer", "medicare", "97110=33", "97140=7")
    assert (out["total_timed_minutes"], out["total_units"], out["units"]) == (40, 3, {"97110": 2, "97140": 1})


def test_units_human_output() -> None:
    result = runner.invoke(app, ["units", "--payer", "medicare", "97110=33", "97140=7"])
    assert result.exit_code == 0
    assert "Total timed minutes: 40" in result.stdout and "Total timed units: 3" in result.stdout


def test_units_commercial_per_code() -> None:
    out = _json("units", "--payer", "commercial", "97110=33", "97140=7")
    assert (out["total_units"], out["units"]) == (2, {"97110": 2, "97140": 0})


def test_units_billed_over_and_under() -> None:
    out = _json("units", "97530=38", "97535=15", "97110=6", "--billed", "97530=2,97535=1", "--billed", "97110=1")
    assert out["over"] == {"97110": 1}
    assert out["under"] == {"97530": 1}


def test_units_untimed_code_kept_out_of_timed_total() -> None:
    out = _json("units", "97530=30", "97140=10", "97014=15")
    assert (out["total_timed_minutes"], out["units"]) == (40, {"97530": 2, "97140": 1})
    assert out["untimed"] == {"97014": {"minutes": 15, "units": 1}}


def test_units_reports_ties() -> None:
    out = _json("units", "97112=20", "97110=20")
    assert out["tied"] == ["97112", "97110"] and len(out["alternatives"]) == 2


@pytest.mark.parametrize(
    "args",
    [
        ["97530=abc"],
        ["97530"],
        ["97530=-5"],
        ["99999=10"],
        ["97530=30", "--payer", "nobody"],
        ["97530=30", "--billed", "97530=x"],
    ],
)
def test_units_bad_input_is_a_one_line_error(args: list[str]) -> None:
    result = runner.invoke(app, ["units", *args])
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1


def test_mac_texas_is_novitas_jh() -> None:
    result = runner.invoke(app, ["mac", "TX"])
    assert result.exit_code == 0
    assert "Novitas" in result.stdout and "JH" in result.stdout
    assert "Noridian" not in result.stdout.replace("not Noridian", "")
    assert _json("mac", "tx") | {"note": None} == {
        "state": "TX",
        "jurisdiction": "JH",
        "contractor": "Novitas Solutions",
        "lcd": "L35036",
        "note": None,
    }


def test_mac_unknown_state() -> None:
    result = runner.invoke(app, ["mac", "ZZ"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")


def test_mac_covers_every_state_dc_and_territory() -> None:
    assert sorted(all_localities()) == sorted(STATES)
    assert {lookup_mac(s).jurisdiction for s in ("CA", "AS", "GU", "MP")} == {"JE"}  # type: ignore[union-attr]
    assert {lookup_mac(s).contractor for s in ("FL", "PR", "VI")} == {"First Coast Service Options"}  # type: ignore[union-attr]


def test_lookup_mac_accepts_names_and_never_raises() -> None:
    assert lookup_mac(" texas ").jurisdiction == "JH"  # type: ignore[union-attr]
    assert lookup_mac("District of Columbia").jurisdiction == "JL"  # type: ignore[union-attr]
    assert lookup_mac("") is None and lookup_mac(None) is None  # type: ignore[arg-type]
