"""Imported CMS edit tables (NCCI PTP, MUE): import, idempotence, refusal, versions by date, and the
rules reading them; on SQLite and (with REVIEWER_TEST_POSTGRES_URL) PostgreSQL."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from casebook import build_extraction
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session
from test_queue import db_url  # noqa: F401  (a fixture: SQLite and PostgreSQL)
from typer.testing import CliRunner

from reviewer.cli import app
from reviewer.cms_files import EditFileError, ptp_quarter, read_mue_file, read_ptp_file
from reviewer.db import EditTableVersionRow, MueValueRow, PtpEditRow
from reviewer.edit_table_store import EditTableStore
from reviewer.edit_tables import EditTables
from reviewer.rules import evaluate
from reviewer.rules.context import billed_codes, service_date_of

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "cms"
V310 = [FIXTURES / "ccipra-v310r0-f1.txt", FIXTURES / "ccipra-v310r0-f2.txt"]
V311 = [FIXTURES / "ccipra-v311r0-f1.txt"]
MUE_Q1 = FIXTURES / "MCR_MUE_PractitionerServices_Eff_01-01-2025.csv"

# A note billing 97140 and 97530 on one date without 59/X (the CMS MLN Example 9 pair).
PAIR_NOTE = {
    "date_of_service": "03/11/2025",
    "blocks": [
        {"code": "97140", "minutes": 12, "kind": "manual"},
        {"code": "97530", "minutes": 26, "kind": "functional", "daily_task": "kitchen", "daily_task_verified": True},
    ],
    "total_timed_minutes": 38,
    "billing": [{"code": "97140", "units": 1, "modifiers": ["GP"]}, {"code": "97530", "units": 2, "modifiers": ["GP"]}],
}


@pytest.fixture
def store(db_url):  # noqa: F811
    opened = EditTableStore(db_url)
    yield opened
    opened.close()


def _counts(store: EditTableStore) -> tuple[int, int, int]:
    with Session(store.engine) as session:
        versions, pairs, values = (
            session.scalar(select(func.count()).select_from(table)) or 0
            for table in (EditTableVersionRow, PtpEditRow, MueValueRow)
        )
    return versions, pairs, values


def _review(store: EditTableStore, overrides: dict):
    extraction = build_extraction(overrides)
    tables = store.tables_for(service_date_of(extraction), billed_codes(extraction))
    return evaluate(extraction, payer="medicare", state=None, edit_tables=tables)


# --- reading the files ----------------------------------------------------------------------------


def test_ptp_file_in_cms_layout_is_read_after_its_header_lines():
    parsed = read_ptp_file(V310[0])

    assert parsed.rows_read == 7 and parsed.rows_kept == 7
    first = parsed.ptp[0]
    assert (first.column1, first.column2, first.modifier_indicator, first.effective, first.deleted) == (
        "97140",
        "97530",
        1,
        date(2005, 1, 1),
        None,
    )
    assert parsed.ptp[3].prior_1996 and parsed.ptp[2].deleted == date(2020, 1, 23)
    assert parsed.ptp[-1].column1 == "0001A"


def test_therapy_filter_keeps_pairs_where_either_code_is_a_therapy_code():
    kept = read_ptp_file(V310[0], keep=lambda code: code.startswith("97"))

    assert kept.rows_read == 7
    assert {(p.column1, p.column2) for p in kept.ptp} == {
        ("97140", "97530"),
        ("97150", "97530"),
        ("97161", "97530"),
        ("97530", "97164"),
        ("97112", "97116"),
    }


@pytest.mark.parametrize(
    ("line", "bad", "message"),
    [
        ("97150\t97530\t\t20100101\t*\t7\tMutually exclusive", "modifier", "modifier indicator '7' is not 0, 1 or 9"),
        ("9715\t97530\t\t20100101\t*\t1\tx", "code", "column 1 code '9715' is not a CPT/HCPCS code"),
        ("97150\t97530\t\t2010-01-01\t*\t1\tx", "date", "effective date '2010-01-01' is not a YYYYMMDD date"),
        ("97150\t97530\t\t20100101\t20101399\t1\tx", "deletion", "deletion date '20101399' is not a YYYYMMDD date"),
        ("97150\t97530\t\t20100101", "short", "expected 7 columns"),
        ("97150\t97530\tX\t20100101\t*\t1\tx", "mark", "prior-1996 mark 'X'"),
    ],
    ids=lambda value: value if value in ("modifier", "code", "date", "deletion", "short", "mark") else None,
)
def test_a_malformed_ptp_line_is_refused_with_its_line_number(tmp_path, line, bad, message):
    good = "97140\t97530\t\t20050101\t*\t1\tMisuse of column two code with column one code"
    path = tmp_path / "ccipra-v310r0-f3.txt"
    path.write_text(
        f"notice\n\nColumn 1\tColumn 2\n{good}\n{line}\n{good.replace('97140', '97110')}\n", encoding="latin-1"
    )

    with pytest.raises(EditFileError) as raised:
        read_ptp_file(path)
    assert raised.value.line == 5
    assert str(raised.value).startswith("ccipra-v310r0-f3.txt, line 5: ") and message in str(raised.value)


def test_a_file_that_is_not_an_edit_file_is_refused(tmp_path):
    path = tmp_path / "ccipra-v310r0-f1.txt"
    path.write_text("just some text\nand more\n", encoding="utf-8")
    with pytest.raises(EditFileError, match="no PTP edit lines found"):
        read_ptp_file(path)


def test_the_spreadsheet_layout_reads_like_the_text_file(tmp_path):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Medicare NCCI PTP edits - TEST FIXTURE (made-up rows)"])
    sheet.append([])
    sheet.append(["Column 1", "Column 2", "*=in existence prior to 1996", "Effective Date", "Deletion Date *=no data", "Modifier", "PTP Edit Rationale"])  # fmt: skip
    sheet.append([97140, 97530, None, 20050101, "*", 1, "Misuse of column two code with column one code"])
    sheet.append(["0001A", "0593T", None, 20220101, 20231231, 1, "Misuse of column two code"])
    sheet.append([100, 97530, "*", 19960101, "*", 0, "leading zeros dropped by the spreadsheet"])
    path = tmp_path / "ccipra-v310r0-f1.xlsx"
    workbook.save(path)

    parsed = read_ptp_file(path)
    assert [(p.column1, p.column2, p.modifier_indicator, p.deleted) for p in parsed.ptp] == [
        ("97140", "97530", 1, None),
        ("0001A", "0593T", 1, date(2023, 12, 31)),
        ("00100", "97530", 0, None),
    ]


def test_mue_file_reads_value_and_adjudication_indicator():
    parsed = read_mue_file(MUE_Q1)

    assert parsed.rows_read == 6
    value = next(v for v in parsed.mue if v.code == "97530")
    assert (value.value, value.indicator, value.indicator_text) == (4, 3, "3 Date of Service Edit: Clinical")


def test_a_malformed_mue_line_is_refused_with_its_line_number():
    with pytest.raises(EditFileError, match=r"line 5: MUE value 'four' is not a whole number"):
        read_mue_file(FIXTURES / "MCR_MUE_PractitionerServices_Eff_04-01-2025.csv")


def test_version_numbers_name_their_quarter():
    assert ptp_quarter("v310r0") == (date(2025, 1, 1), date(2025, 3, 31))
    assert ptp_quarter("v313r1") == (date(2025, 10, 1), date(2025, 12, 31))
    assert ptp_quarter("v322r0") == (date(2026, 7, 1), date(2026, 9, 30))
    assert ptp_quarter("v318r0") is None


# --- the database ----------------------------------------------------------------------------------


def test_import_twice_changes_nothing(store):
    first = store.import_ptp(V310)
    counts = _counts(store)
    again = store.import_ptp(V310)

    assert first.changed and first.version == "v310r0" and not again.changed
    assert again.unchanged == ["ccipra-v310r0-f1.txt", "ccipra-v310r0-f2.txt"]
    assert _counts(store) == counts
    (version,) = store.versions()
    assert (version.effective_from, version.effective_to) == (date(2025, 1, 1), date(2025, 3, 31))
    # 11 rows read; the default keeps pairs with a therapy code (10021/10004, 0001A/0593T, 20610/20611 dropped)
    assert (version.rows_read, version.rows_kept, version.kept) == (11, 8, "therapy")


def test_parts_imported_one_at_a_time_make_one_version(store):
    store.import_ptp(V310[:1])
    store.import_ptp(V310)  # f1 again (unchanged) and f2 (new)

    (version,) = store.versions()
    assert version.files == ("ccipra-v310r0-f1.txt", "ccipra-v310r0-f2.txt")
    assert (version.rows_read, version.rows_kept) == (11, 8)


def test_all_codes_keeps_every_row(store):
    store.import_ptp(V310, keep="all")
    (version,) = store.versions()
    assert (version.rows_read, version.rows_kept, version.kept) == (11, 11, "all")


def test_a_malformed_file_leaves_nothing_half_imported(store, tmp_path):
    broken = tmp_path / "ccipra-v310r0-f2.txt"
    broken.write_text(
        V310[1].read_text(encoding="latin-1") + "97530\t97112\t\t20080101\t*\tx\tbad\n", encoding="latin-1"
    )

    with pytest.raises(EditFileError, match="line 12: modifier indicator 'x'"):
        store.import_ptp([V310[0], broken])
    assert _counts(store) == (0, 0, 0)


def test_a_different_file_for_a_part_already_imported_is_refused(store, tmp_path):
    store.import_ptp(V310[:1])
    other = tmp_path / "ccipra-v310r0-f1.txt"
    other.write_text(V310[0].read_text(encoding="latin-1").replace("20050101", "20060101"), encoding="latin-1")

    with pytest.raises(EditFileError, match="part f1 was already imported from a different file"):
        store.import_ptp([other])


def test_version_is_taken_from_the_option_when_the_name_lacks_it(store, tmp_path):
    renamed = tmp_path / "ptp-practitioner.txt"
    renamed.write_bytes(V310[0].read_bytes())

    with pytest.raises(EditFileError, match="give --version"):
        store.import_ptp([renamed])
    with pytest.raises(EditFileError, match="give --effective"):
        store.import_ptp([renamed], version="custom1")
    result = store.import_ptp([renamed], version="custom1", effective=date(2025, 1, 1))
    assert result.version == "custom1" and store.versions()[0].effective_to == date(2025, 3, 31)


def test_the_version_in_force_on_the_date_of_service_is_applied(store):
    store.import_ptp(V310)
    store.import_ptp(V311)
    billed = {"97150", "97530"}

    march = store.tables_for(date(2025, 3, 11), billed)
    may = store.tables_for(date(2025, 5, 2), billed)
    assert march.ptp is not None and march.ptp.version.version == "v310r0"
    assert may.ptp is not None and may.ptp.version.version == "v311r0"
    assert {(p.column1, p.column2) for p in march.ptp.pairs} == {("97150", "97530")}  # only the billed codes

    group = {
        "blocks": [{"code": "97150", "minutes": 20, "kind": "exercise", "group": True}, *PAIR_NOTE["blocks"][1:]],
        "total_timed_minutes": 46,
        "billing": [
            {"code": "97150", "units": 1, "modifiers": ["GP"]},
            {"code": "97530", "units": 2, "modifiers": ["GP"]},
        ],
    }
    in_march = _review(store, {**group, "date_of_service": "03/11/2025"})
    in_may = _review(store, {**group, "date_of_service": "05/02/2025"})
    assert [f.message for f in in_march.findings if f.rule == "NCCI002"] == [
        "97150 and 97530 may not be billed together on 2025-03-11 (NCCI PTP v310r0); modifier indicator 0: no modifier unbundles them."
    ]
    assert [f for f in in_may.findings if f.rule == "NCCI002"] == []  # the edit ended 2025-03-31 in v311r0


def test_review_of_97140_and_97530_without_59_cites_the_imported_version(store):
    store.import_ptp(V310)
    result = _review(store, PAIR_NOTE)

    (finding,) = [f for f in result.findings if f.rule == "NCCI001"]
    assert finding.code == "97530" and "(NCCI PTP v310r0)" in finding.message
    assert "CMS NCCI PTP practitioner table v310r0 (effective 2025-01-01 to 2025-03-31)" in finding.citation
    ptp_use = result.edit_tables[0]
    assert (ptp_use.table, ptp_use.version, ptp_use.verified) == ("ncci_ptp", "v310r0", True)


def test_without_imported_tables_the_bundled_pairs_say_unverified(store):
    result = _review(store, PAIR_NOTE)

    (finding,) = [f for f in result.findings if f.rule == "NCCI001"]
    assert "(unverified edit table)" in finding.message and "unverified edit table" in finding.citation
    assert result.edit_tables[0].version is None and not result.edit_tables[0].verified


def test_indicator_9_pair_raises_nothing_and_indicator_0_ignores_59(store):
    store.import_ptp(V310)
    gait = {
        "blocks": [
            {"code": "97112", "minutes": 15, "kind": "balance"},
            {"code": "97116", "minutes": 15, "kind": "gait"},
        ],
        "total_timed_minutes": 30,
        "billing": [
            {"code": "97112", "units": 1, "modifiers": ["GP"]},
            {"code": "97116", "units": 1, "modifiers": ["GP"]},
        ],
    }
    assert [f.rule for f in _review(store, gait).findings if f.rule.startswith("NCCI")] == []

    group_with_59 = {
        "blocks": [{"code": "97150", "minutes": 20, "kind": "exercise", "group": True}, *PAIR_NOTE["blocks"][1:]],
        "total_timed_minutes": 46,
        "billing": [
            {"code": "97150", "units": 1, "modifiers": ["GP"]},
            {"code": "97530", "units": 2, "modifiers": ["GP", "59"]},
        ],
    }
    assert "NCCI002" in {f.rule for f in _review(store, group_with_59).findings}


def test_mue_units_above_the_imported_value_raise_the_finding(store):
    store.import_mue(MUE_Q1)
    (version,) = store.versions()
    assert (version.kind, version.version, version.effective_from, version.rows_read, version.rows_kept) == (
        "mue",
        "2025Q1",
        date(2025, 1, 1),
        6,
        5,  # 99213 is not a therapy code
    )
    over = {
        "blocks": [
            {
                "code": "97530",
                "minutes": 80,
                "kind": "functional",
                "daily_task": "car transfer",
                "daily_task_verified": True,
            }
        ],
        "total_timed_minutes": 80,
        "total_treatment_minutes": 85,
        "billing": [{"code": "97530", "units": 5, "modifiers": ["GP"]}],
    }
    result = _review(store, over)

    (finding,) = [f for f in result.findings if f.rule == "MUE001"]
    assert finding.severity == "error" and finding.units_at_risk == 1
    assert (
        "5 units billed on 2025-03-11, above the MUE of 4 (MAI 3: 3 Date of Service Edit: Clinical" in finding.message
    )
    assert "MUE002" not in {f.rule for f in result.findings}
    assert store.import_mue(MUE_Q1).changed is False


def test_without_an_mue_table_the_rule_says_it_could_not_check(store):
    result = _review(store, {"billing": [{"code": "97530", "units": 9, "modifiers": ["GP"]}]})

    assert "MUE001" not in {f.rule for f in result.findings}
    (missing,) = [f for f in result.findings if f.rule == "MUE002"]
    assert missing.severity == "info" and "not checked against MUEs" in missing.message


def test_a_date_past_the_newest_table_is_warned_about(store):
    store.import_ptp(V310)
    tables = store.tables_for(date(2025, 8, 1), {"97140", "97530"})

    (ptp_use, mue_use) = tables.uses(date(2025, 8, 1))
    assert ptp_use.version == "v310r0" and ptp_use.note is not None
    assert "older than the date of service 2025-08-01" in ptp_use.note
    assert mue_use.version is None


def test_fingerprint_changes_when_a_table_is_imported(store):
    assert store.fingerprint() == ""
    store.import_ptp(V310[:1])
    one = store.fingerprint()
    store.import_ptp(V310)
    assert one and store.fingerprint() != one


def test_remove_deletes_a_version_and_its_rows(store):
    store.import_ptp(V310)
    assert store.remove("ncci_ptp", "v310r0") and not store.remove("ncci_ptp", "v310r0")
    assert _counts(store) == (0, 0, 0)


def test_edit_tables_default_is_empty():
    assert EditTables().uses(date(2025, 1, 1))[1].note == "no CMS MUE table imported: units per code were not checked"


# --- the command line ------------------------------------------------------------------------------


@pytest.mark.usefixtures("fresh_settings")
def test_data_commands_import_list_and_refuse(tmp_path):
    url = f"sqlite:///{tmp_path / 'tables.db'}"
    runner = CliRunner()

    empty = runner.invoke(app, ["data", "list", "--db", url, "--json"])
    assert empty.exit_code == 0 and json.loads(empty.stdout)["tables"] == []
    assert not (tmp_path / "tables.db").exists()  # listing does not create a database

    imported = runner.invoke(app, ["data", "import-ncci", *map(str, V310), "--db", url])
    assert imported.exit_code == 0, imported.output
    assert "v310r0: imported ccipra-v310r0-f1.txt, ccipra-v310r0-f2.txt; 8 of 11 rows kept" in imported.stdout
    again = runner.invoke(app, ["data", "import-ncci", *map(str, V310), "--db", url])
    assert again.exit_code == 0 and "already imported" in again.stdout and "nothing changed" in again.stdout
    assert runner.invoke(app, ["data", "import-mue", str(MUE_Q1), "--db", url]).exit_code == 0

    bad = runner.invoke(app, ["data", "import-ncci", str(FIXTURES / "ccipra-v312r0-f1.txt"), "--db", url])
    assert bad.exit_code == 2
    assert "error: ccipra-v312r0-f1.txt, line 9: modifier indicator '7' is not 0, 1 or 9" in bad.stderr

    listed = runner.invoke(app, ["data", "list", "--db", url, "--json", "--date", "2025-02-01"])
    data = json.loads(listed.stdout)
    assert [(t["table"], t["version"], t["rows_read"], t["rows_kept"]) for t in data["tables"]] == [
        ("mue", "2025Q1", 6, 5),
        ("ncci_ptp", "v310r0", 11, 8),
    ]
    assert data["tables"][1]["effective_from"] == "2025-01-01" and data["tables"][1]["effective_to"] == "2025-03-31"
    assert data["warnings"] == []

    late = runner.invoke(app, ["data", "list", "--db", url, "--date", "2025-06-01"])
    assert late.exit_code == 0
    shown = " ".join(late.stdout.split())
    assert "NCCI PTP practitioner v310r0 2025-01-01 to 2025-03-31 8 of 11 rows kept (therapy codes only)" in shown
    assert (
        "warning: the newest imported NCCI PTP practitioner table (v310r0, through 2025-03-31) is older than the date of service 2025-06-01"
        in late.stderr
    )


def test_migrations_upgrade_an_existing_database_with_its_rows(tmp_path):
    from alembic import command
    from test_queue import make_report

    from reviewer.migrations import alembic_config, upgrade
    from reviewer.store import ResultStore

    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0001")
    engine = create_engine(url)
    assert "edit_table_versions" not in _tables(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO review_results (result_key, note_id, content_hash, backend, model, prompt_version, rules_version,"
            " status, flags, report_json, created_at) VALUES ('k', 'kept', 'h', 'b', 'm', 'p', 'r', 'ok', '[]', '{}', '2026-01-01')"
        )
    store = EditTableStore(url)  # opening migrates to head
    assert {"edit_table_versions", "ncci_ptp_edits", "mue_values"} <= _tables(engine)
    store.import_ptp(V310)
    store.close()
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT note_id FROM review_results").scalars().all() == ["kept"]
    results = ResultStore(url)
    results.put(make_report("new"))
    assert results.count() == 2
    results.close()
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
    assert "edit_table_versions" not in _tables(engine)
    engine.dispose()


def _tables(engine) -> set[str]:
    from sqlalchemy import inspect

    return set(inspect(engine).get_table_names())


@pytest.mark.usefixtures("fresh_settings")
def test_review_command_cites_the_imported_version(tmp_path):
    """dev-0009 (08/05/2025) bills 97140 and 97530 without 59/X; a table for its quarter is imported."""
    note = Path(__file__).resolve().parents[1] / "evals" / "corpora" / "dev" / "notes" / "dev-0009.txt"
    if not note.exists():
        pytest.skip("corpus not found")
    url = f"sqlite:///{tmp_path / 'tables.db'}"
    runner = CliRunner()
    part = tmp_path / "ccipra-v312r0-f1.txt"
    part.write_bytes(V310[0].read_bytes())
    assert runner.invoke(app, ["data", "import-ncci", str(part), "--db", url]).exit_code == 0

    result = runner.invoke(app, ["review", str(note), "--backend", "replay", "--json", "--db", url])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.splitlines()[0])
    (finding,) = [f for f in report["findings"] if f["rule"] == "NCCI001"]
    assert "(NCCI PTP v312r0)" in finding["message"]
    assert report["edit_tables"][0] == {
        "table": "ncci_ptp",
        "version": "v312r0",
        "verified": True,
        "effective_from": "2025-07-01",
        "effective_to": "2025-09-30",
        "note": None,
    }
    readable = runner.invoke(app, ["review", str(note), "--backend", "replay", "--db", url])
    assert "edit tables: NCCI PTP v312r0 (2025-07-01 to 2025-09-30); MUE: none imported" in " ".join(
        readable.stdout.split()
    )


def test_batch_outputs_show_the_edit_table_versions():
    from test_queue import make_report

    from reviewer.batch_outputs import to_csv, to_html_summary
    from reviewer.report import EditTableUse

    report = make_report("n1").model_copy(
        update={
            "edit_tables": [
                EditTableUse(table="ncci_ptp", version="v310r0", verified=True, effective_from=date(2025, 1, 1)),
                EditTableUse(table="mue", version=None),
            ]
        }
    )
    assert "ncci_ptp:v310r0;mue:none" in to_csv([report])
    assert "NCCI PTP v310r0 (2025-01-01 on): 1 note(s)" in to_html_summary([report])


def test_kx_and_targeted_review_amounts_are_data_with_their_source():
    from reviewer.thresholds import kx_threshold, targeted_review_threshold, years

    amounts = [(y, kx_threshold(y, "PT")) for y in years("kx_threshold")]
    assert [(y, t.amount if t else None) for y, t in amounts] == [(2025, 2410), (2026, 2480)]
    ot_2026 = kx_threshold(2026, "OT")
    assert (
        ot_2026 is not None and (ot_2026.amount, ot_2026.bucket) == (2480, "ot") and "proactivechart" in ot_2026.source
    )
    slp = kx_threshold(2026, "slp")
    assert slp is not None and slp.bucket == "pt_slp"
    review = targeted_review_threshold(2026, "PT")
    assert review is not None and review.amount == 3000 and review.source
    assert kx_threshold(2019, "PT") is None and kx_threshold(2026, "XX") is None
