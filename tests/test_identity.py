"""Episode keys read from note text: exact evidence spans, identifiers as offsets only, keyed hashes,
the per-install secret, and keys written twice with different values left uncertain."""

from __future__ import annotations

from reviewer.identity import authorization_key, identity_at, install_secret, patient_keys, read_episode_keys

NOTE = """Riverside Physical Therapy
PT Progress Report - visits 1-10
Patient: Walter Briggs        DOB: 06/02/1949        MRN: RPT-104233
DOS: 03/04/2025        Visit 10 of 16
Insurance: Medicare Advantage   Auth # HUM-7731902, 12 visits authorized
POC 02/18/2025 - 05/18/2025   Recertified; certified through 07/16/2025

A: next progress report due at visit 20.
"""
SECRET = b"k" * 32


def _patients(text: str, secret: bytes = SECRET) -> list[str]:
    keys, _ = read_episode_keys(text)
    return patient_keys(identity_at(text, keys), secret)


def test_keys_carry_exact_spans_and_no_identifier():
    keys, uncertain = read_episode_keys(NOTE)
    assert uncertain == []
    assert keys.document_kind.value == "progress_report"
    assert (keys.certified_from.value, keys.certified_through.value) == ("2025-02-18", "2025-07-16")
    assert keys.visits_authorized.value == 12
    for keyed in (keys.document_kind, keys.certified_from, keys.certified_through, keys.visits_authorized):
        span = keyed.evidence
        assert span.verified and NOTE[span.start : span.end] == span.text
    spans = {s.supports: NOTE[s.start : s.end] for s in keys.identity_spans}
    assert spans == {
        "mrn": "RPT-104233",
        "name": "Walter Briggs",
        "date_of_birth": "06/02/1949",
        "authorization_number": "HUM-7731902",
    }
    dumped = keys.model_dump_json() + "".join(_patients(NOTE)) + (authorization_key(NOTE, keys, SECRET) or "")
    for identifier in ("Walter", "Briggs", "104233", "06/02/1949", "HUM-7731902"):
        assert identifier not in dumped
    assert len(_patients(NOTE)) == 2


def test_hashes_are_keyed_by_the_install_secret(tmp_path):
    secret = install_secret(tmp_path / "identity.key")
    assert install_secret(tmp_path / "identity.key") == secret and len(secret) == 32
    assert (tmp_path / "identity.key").stat().st_mode & 0o077 == 0
    mine, other = _patients(NOTE, secret), _patients(NOTE, b"another install" * 2)
    assert mine and not set(mine) & set(other)


def test_name_and_birth_date_join_a_note_without_mrn():
    without = _patients(NOTE.replace("MRN: RPT-104233", ""))
    assert len(without) == 1 and without[0] in _patients(NOTE)


def test_a_mention_of_a_progress_report_is_not_a_title():
    keys, _ = read_episode_keys(NOTE.replace("PT Progress Report - visits 1-10", "PT Daily Note"))
    assert keys.document_kind is None


def test_two_different_certification_ends_leave_the_certification_uncertain():
    twice = NOTE.replace("A: next progress", "Certified through 08/30/2025.\nA: next progress")
    keys, uncertain = read_episode_keys(twice)
    assert keys.certified_through is None and keys.certified_from is None
    assert [u.field for u in uncertain] == ["certification"]
    assert "2025-07-16" not in uncertain[0].reason and "07/16/2025" in uncertain[0].reason


def test_two_numbers_of_visits_authorized_leave_it_uncertain_and_two_mrns_fall_back_to_name_and_birth_date():
    text = NOTE.replace("A: next progress", "MRN: RPT-999999; 20 visits authorized\nA: next progress")
    keys, uncertain = read_episode_keys(text)
    assert keys.visits_authorized is None and keys.span("mrn") is None
    assert sorted(u.field for u in uncertain) == ["mrn", "visits_authorized"]
    assert len(_patients(text)) == 1  # name + date of birth still join the note


def test_the_extraction_carries_the_keys_and_a_conflict_sends_the_note_to_a_human():
    from fakes import DEV_0001_ANSWERS, AnsweringBackend

    from reviewer.review import review_text
    from reviewer.settings import Settings

    twice = NOTE.replace("A: next progress", "Certified through 08/30/2025.\nA: next progress")
    report = review_text(twice, note_id="n", backend=AnsweringBackend(DEV_0001_ANSWERS), settings=Settings())
    assert report.extraction.episode.span("mrn") is not None
    assert any(u.field == "certification" for u in report.extraction.uncertain) and report.needs_human
