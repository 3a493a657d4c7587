"""Episode keys read from note text: exact evidence spans, keyed hashes, the per-install secret."""

from __future__ import annotations

from reviewer.identity import install_secret, read_episode_keys

NOTE = """Riverside Physical Therapy
PT Progress Report - visits 1-10
Patient: Walter Briggs        DOB: 06/02/1949        MRN: RPT-104233
DOS: 03/04/2025        Visit 10 of 16
Insurance: Medicare Advantage   Auth # HUM-7731902, 12 visits authorized
POC 02/18/2025 - 05/18/2025   Recertified; certified through 07/16/2025

A: next progress report due at visit 20.
"""


def test_keys_carry_exact_spans_and_no_identifier():
    keys, patients = read_episode_keys(NOTE, secret=b"k" * 32)
    assert keys.date_of_service.value == "2025-03-04"
    assert keys.document_kind.value == "progress_report"
    assert (keys.certified_from.value, keys.certified_through.value) == ("2025-02-18", "2025-07-16")
    assert keys.visits_authorized.value == "12"
    for keyed in (keys.date_of_service, keys.document_kind, keys.certified_from, keys.certified_through,
                  keys.visits_authorized):  # fmt: skip
        span = keyed.evidence
        assert span.verified and NOTE[span.start : span.end] == span.text
    spans = {s.supports: NOTE[s.start : s.end] for s in keys.identity_spans}
    assert spans == {"mrn": "RPT-104233", "name": "Walter Briggs", "date_of_birth": "06/02/1949"}
    dumped = keys.model_dump_json() + "".join(patients)
    for identifier in ("Walter", "Briggs", "104233", "06/02/1949", "HUM-7731902"):
        assert identifier not in dumped
    assert keys.authorization_number.evidence.text == "" and len(patients) == 2


def test_hashes_are_keyed_by_the_install_secret(tmp_path):
    secret = install_secret(tmp_path / "identity.key")
    assert install_secret(tmp_path / "identity.key") == secret and len(secret) == 32
    assert (tmp_path / "identity.key").stat().st_mode & 0o077 == 0
    _, mine = read_episode_keys(NOTE, secret=secret)
    _, other = read_episode_keys(NOTE, secret=b"another install" * 2)
    assert mine and not set(mine) & set(other)


def test_name_and_birth_date_join_a_note_without_mrn():
    _, with_mrn = read_episode_keys(NOTE, secret=b"k" * 32)
    _, without = read_episode_keys(NOTE.replace("MRN: RPT-104233", ""), secret=b"k" * 32)
    assert len(without) == 1 and without[0] in with_mrn


def test_a_mention_of_a_progress_report_is_not_a_title():
    daily = NOTE.replace("PT Progress Report - visits 1-10", "PT Daily Note")
    keys, _ = read_episode_keys(daily, secret=b"k" * 32)
    assert keys.document_kind is None
