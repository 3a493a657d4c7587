"""`reviewer batch` on the test episodes (evals/corpora/episodes) with a fake model: exactly the
expected episode findings, none on the clean episodes, nothing added by a rerun, no identifier written."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
import yaml
from fakes import DEV_0001_ANSWERS, AnsweringBackend
from typer.testing import CliRunner, Result

import reviewer.commands.batch as batch_command
from reviewer.cli import app
from reviewer.episode_outputs import read_episodes
from reviewer.store import ResultStore

EPISODES = Path(__file__).resolve().parents[1] / "evals" / "corpora" / "episodes"
EXPECTED = yaml.safe_load((EPISODES / "expected.yaml").read_text(encoding="utf-8"))


def run_episode_batch(tmp: Path, *commands: list[str]) -> list[Result]:
    """CLI commands run as the episode tests run them: the store is tmp/results.db, the identity
    secret tmp/identity.key, the model the fake one answering as for dev-0001."""
    patch = pytest.MonkeyPatch()
    patch.setenv("REVIEWER_IDENTITY_SECRET_FILE", str(tmp / "identity.key"))
    patch.setenv("REVIEWER_DATABASE_URL", f"sqlite:///{tmp / 'results.db'}")
    patch.delenv("REVIEWER_BACKEND", raising=False)
    patch.setattr(batch_command, "get_backend", lambda settings: AnsweringBackend(DEV_0001_ANSWERS))
    from reviewer.settings import get_settings

    get_settings.cache_clear()
    try:
        return [CliRunner().invoke(app, command) for command in commands]
    finally:
        get_settings.cache_clear()
        patch.undo()


BATCH_ARGS = [
    "batch",
    str(EPISODES / "notes"),
    "--payer",
    "medicare",
    "--fee-schedule",
    str(EPISODES / "fee_schedule.csv"),
]


@pytest.fixture(scope="module")
def batch_run(tmp_path_factory):
    """One batch over every episode, then the same command again; the outputs of both."""
    tmp = tmp_path_factory.mktemp("episodes")
    logged = _Collected(level=logging.DEBUG)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(logged)
    root.setLevel(logging.DEBUG)
    try:
        first, second, listing = run_episode_batch(
            tmp,
            [*BATCH_ARGS, "--out", str(tmp / "out1")],
            [*BATCH_ARGS, "--out", str(tmp / "out2")],
            ["episodes", str(tmp / "out2")],
        )
    finally:
        root.removeHandler(logged)
        root.setLevel(previous)
    store = ResultStore(f"sqlite:///{tmp / 'results.db'}")
    count = store.count()
    store.close()
    return {"tmp": tmp, "first": first, "second": second, "listing": listing, "stored": count, "logs": logged.text}


class _Collected(logging.Handler):
    """Every log record of the batch, formatted with its arguments: what a log file would hold."""

    def __init__(self, level: int):
        super().__init__(level)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _found(out: Path) -> dict[str, list[dict[str, str]]]:
    found: dict[str, list[dict[str, str]]] = {}
    for episode in read_episodes(out).episodes:
        folder = {v.note_id.split("/")[0] for v in episode.visits}
        assert len(folder) == 1, f"an episode mixes notes of {sorted(folder)}"
        found[folder.pop()] = [
            {"rule": f.rule, "note": (f.note_id or "").split("/")[-1] or "(episode)"} for f in episode.findings
        ]
    return found


def test_batch_finds_exactly_the_expected_episode_findings(batch_run):
    assert batch_run["first"].exit_code == 0, batch_run["first"].output
    found = _found(batch_run["tmp"] / "out1")
    assert set(found) == set(EXPECTED), "each test episode is one episode"
    for episode, expected in EXPECTED.items():
        assert sorted(found[episode], key=str) == sorted(expected, key=str), episode


def test_rerun_adds_nothing(batch_run):
    assert batch_run["second"].exit_code == 0, batch_run["second"].output
    notes = sum(1 for _ in (EPISODES / "notes").rglob("*.txt"))
    assert batch_run["stored"] == notes
    assert f"({notes} already stored" in batch_run["second"].output
    first = (batch_run["tmp"] / "out1" / "episodes.json").read_text(encoding="utf-8")
    second = (batch_run["tmp"] / "out2" / "episodes.json").read_text(encoding="utf-8")
    assert first == second


def test_episodes_command_lists_every_episode_and_finding(batch_run):
    listing = batch_run["listing"]
    assert listing.exit_code == 0, listing.output
    lines = listing.stdout.splitlines()
    assert sum(1 for line in lines if line.startswith("P-")) == len(EXPECTED)
    assert sum(1 for line in lines if re.match(r"\s+EPI\d{3} ", line)) == sum(len(v) for v in EXPECTED.values())


def test_no_patient_identifier_is_written(batch_run):
    names, mrns = set(), set()
    for path in (EPISODES / "notes").rglob("*.txt"):
        text = path.read_text(encoding="utf-8")
        names.update(re.findall(r"Patient: ([A-Z][a-z]+ [A-Z][a-z]+)", text))
        mrns.update(re.findall(r"MRN: (\S+)", text))
    assert names and mrns
    out = batch_run["tmp"] / "out1"
    written = {
        name: (out / name).read_text(encoding="utf-8") for name in ("episodes.json", "results.csv", "summary.html")
    }
    written["listing"] = batch_run["listing"].stdout
    written["logs"] = batch_run["logs"]
    written["batch output"] = batch_run["first"].output
    for where, text in written.items():
        for identifier in names | mrns:
            assert identifier not in text, f"{where} names a patient"
        assert "06/02/1949" not in text, f"{where} holds a date of birth"


def test_summary_has_the_episode_view_and_the_cloned_note_rate(batch_run):
    html = (batch_run["tmp"] / "out1" / "summary.html").read_text(encoding="utf-8")
    assert "<h2>Episodes</h2>" in html and html.count("class='chart timeline'") == len(EXPECTED)
    assert "<th>cloned notes</th>" in html
    assert "<td>Priya Natarajan</td>" in html and "3/20 (15%)" in html  # ep05's 3 copied notes of her 11 + 9
    episodes = json.loads((batch_run["tmp"] / "out1" / "episodes.json").read_text(encoding="utf-8"))
    assert episodes["unidentified"] == 0 and episodes["undated"] == 0


def test_authorization_draft_rests_on_verified_spans_with_placeholders(batch_run):
    out = batch_run["tmp"] / "out1"
    episode = next(e for e in read_episodes(out).episodes if e.visits[0].note_id.startswith("ep06-"))
    result = CliRunner().invoke(app, ["episodes", str(out), "--authorization", episode.patient])
    assert result.exit_code == 0, result.output
    assert "[patient name]" in result.stdout and "[authorization number]" in result.stdout
    assert "Outcome measures: TUG" in result.stdout and "(improved)" in result.stdout and "Bernice" not in result.stdout
    from reviewer.authorization import draft_request, load_reports

    draft = draft_request(episode, load_reports(out))
    assert len(draft.sentences) == 6
    assert "grip" not in result.stdout  # "isometric grip 3x10" is an exercise, not a measure's value
    assert draft.sentences[3].text.startswith("Progress, as the latest assessment states it: ")
    for sentence in draft.sentences:
        assert sentence.evidence, sentence.text  # ep06 documents every part the template asks for
        for cited in sentence.evidence:
            note = (EPISODES / "notes" / f"{cited.note_id}.txt").read_text(encoding="utf-8")
            assert note[cited.evidence.start : cited.evidence.end] == cited.evidence.text


@pytest.mark.parametrize(
    "measure, first, last, expected",
    [
        ("TUG", "TUG 18.4 sec", "TUG 12.1 sec", "improved"),  # a time: lower is better
        ("TUG", "TUG 12.0 sec", "TUG 16.5 sec", "declined"),
        ("Berg", "Berg 38/56", "Berg 47/56", "improved"),  # a score out of 56: higher is better
        ("Berg", "Berg 47/56", "Berg 40/56", "declined"),
        ("QuickDASH", "QuickDASH 54", "QuickDASH 54", "unchanged"),
        ("10MWT", "10MWT 0.8", "10MWT 1.1", "[improved or not]"),  # seconds or m/s: the direction is not known
        ("TUG", "TUG", "TUG 12 sec", "[improved or not]"),
    ],
)
def test_progress_follows_the_measure_s_direction(measure, first, last, expected):
    from reviewer.authorization import progress

    assert progress(measure, first, last) == expected


def test_every_recognised_measure_has_a_direction_entry():
    from reviewer.parsing import OUTCOME_MEASURES

    assert OUTCOME_MEASURES and all(d in ("lower", "higher", None) for d in OUTCOME_MEASURES.values())


def test_authorization_for_an_unknown_patient_is_a_usage_error(batch_run):
    result = CliRunner().invoke(app, ["episodes", str(batch_run["tmp"] / "out1"), "--authorization", "P-nobody"])
    assert result.exit_code == 2 and "no episode of patient" in result.output


def test_the_batch_stores_its_episodes_and_a_rerun_changes_no_row(batch_run):
    from sqlalchemy import create_engine

    from reviewer.episode_store import load_episodes, save_episodes
    from reviewer.episodes import EpisodeSet

    engine = create_engine(f"sqlite:///{batch_run['tmp'] / 'results.db'}")
    stored = load_episodes(engine)
    assert sorted(e.model_dump_json() for e in stored) == sorted(
        e.model_dump_json() for e in read_episodes(batch_run["tmp"] / "out2").episodes
    )
    assert save_episodes(engine, EpisodeSet(episodes=stored)) == 0
    engine.dispose()


def test_the_queue_ranks_episode_findings_with_the_note_findings(batch_run, tmp_path):
    from sqlalchemy import create_engine

    from reviewer.triage.service import TriageQueue

    engine = create_engine(f"sqlite:///{batch_run['tmp'] / 'results.db'}")
    queue = TriageQueue.open(f"sqlite:///{tmp_path / 'queue.db'}")
    assert queue.enqueue_results(engine, actor="batch-import") == batch_run["stored"]
    entries = queue.entries()
    carried = {}
    for entry in entries:
        report = queue.item(entry.id).report
        carried[entry.note_id] = [f.rule for f in report.findings if f.scope == "episode"]
    expected = {f"{episode}/{f['note']}" for episode, found in EXPECTED.items() for f in found}
    assert {note for note, rules in carried.items() if rules} == expected
    past_certification = next(e for e in entries if e.note_id == "ep03-past-certification/visit-11")
    clean = next(e for e in entries if e.note_id == "ep01-clean-knee/visit-05")
    assert past_certification.priority > clean.priority  # EPI002 (an error) puts the visit in the high band
    assert past_certification.risk_band == clean.risk_band  # the note's own band is unchanged
    assert queue.enqueue_results(engine, actor="batch-import") == 0
    assert [a.action for a in queue.audit_trail()].count("refresh") == 0  # nothing changed: nothing refreshed
    queue.close()
    engine.dispose()


def test_a_batch_of_later_visits_is_checked_against_the_whole_episode(tmp_path):
    """Visits 1-7 of ep02 in one batch, visits 8-14 in the next: the second batch's episode holds all
    14 visits and finds the missing progress report at visit 11, as the batch of the whole episode does."""
    episode = "ep02-missing-progress-report"
    for number, note in enumerate(sorted((EPISODES / "notes" / episode).glob("visit-*.txt")), 1):
        week = tmp_path / ("week1" if number <= 7 else "week2") / episode
        week.mkdir(parents=True, exist_ok=True)
        (week / note.name).write_text(note.read_text(encoding="utf-8"), encoding="utf-8")
    first, second = run_episode_batch(
        tmp_path,
        ["batch", str(tmp_path / "week1"), "--payer", "medicare", "--out", str(tmp_path / "out1")],
        ["batch", str(tmp_path / "week2"), "--payer", "medicare", "--out", str(tmp_path / "out2")],
    )
    assert first.exit_code == 0 and second.exit_code == 0, second.output
    assert [f.rule for e in read_episodes(tmp_path / "out1").episodes for f in e.findings] == ["EPI006"]  # no fees
    (whole,) = read_episodes(tmp_path / "out2").episodes
    assert len(whole.visits) == 14 and whole.visits[0].note_id == f"{episode}/visit-01"
    expected = {(f["rule"], f"{episode}/{f['note']}") for f in EXPECTED[episode]}
    assert {(f.rule, f.note_id) for f in whole.findings if f.rule != "EPI006"} == expected
    from sqlalchemy import create_engine

    from reviewer.episode_store import load_episodes

    engine = create_engine(f"sqlite:///{tmp_path / 'results.db'}")
    assert [len(e.visits) for e in load_episodes(engine)] == [14]  # the stored episode is the whole one
    engine.dispose()
