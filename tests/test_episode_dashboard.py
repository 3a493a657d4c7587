"""The dashboard's episode view: the pure helpers on hand-built episodes, then the page through AppTest
on the episodes `reviewer batch` stores from evals/corpora/episodes, signed in as an admin."""

from __future__ import annotations

import json
import logging
import re
from datetime import date

import pytest
from streamlit.testing.v1 import AppTest
from test_episodes_corpus import BATCH_ARGS, EPISODES, run_episode_batch
from test_queue import make_report
from test_ui_apptest import USERS, app, button, html_of, sign_in

from reviewer.authorization import AuthorizationDraft, Cited, Sentence
from reviewer.dashboard import StoredReport, provider_rows
from reviewer.episode_outputs import FLAGGED_COLOUR, VISIT_COLOUR
from reviewer.episode_store import load_episodes
from reviewer.episode_view import (
    FINDING,
    NO_FINDING,
    draft_html,
    episode_label,
    episode_reports,
    finding_rows,
    timeline_figure,
    timeline_rows,
    visit_rows,
)
from reviewer.episodes import BilledLine, CloneMatch, Episode, EpisodeFinding, Visit
from reviewer.schema import EpisodeKeys, Evidence, Grounded
from reviewer.store import ResultStore

# -- the helpers ------------------------------------------------------------------------------------------


def _visit(number: int, day: int, units: int, kind: str | None = None, **fields) -> Visit:
    keys = EpisodeKeys(document_kind=Grounded[str](value=kind, evidence=Evidence(text=kind))) if kind else EpisodeKeys()
    return Visit(
        note_id=f"ep/visit-{number:02}",
        result_key=f"key-{number}",
        date_of_service=date(2025, 3, day),
        visit_number=number,
        keys=keys,
        billing=[BilledLine(code="97530", units=units, modifiers=["GP"]), BilledLine(code="97110", units=1)],
        **fields,
    )


def _finding(rule: str, note_id: str | None) -> EpisodeFinding:
    return EpisodeFinding(
        rule=rule, severity="warning", message=f"{rule} says so", citation="", fix=f"fix {rule}", episode_id="E-1",
        note_id=note_id,
    )  # fmt: skip


EPISODE = Episode(
    episode_id="E-1",
    patient="P-0123456789",
    discipline="PT",
    visits=[
        _visit(1, 3, 2, "evaluation"),
        _visit(2, 5, 3, note_flags=["units_exceed_minutes"]),
        _visit(3, 7, 2, clone_match=CloneMatch(note_id="ep/visit-02", score=96.4, same_patient=True)),
        _visit(4, 10, 1, "progress_report"),
    ],
    findings=[_finding("EPI007", "ep/visit-03"), _finding("EPI001", None)],
)


def test_an_episode_is_labelled_by_its_patient_hash_dates_and_counts():
    assert episode_label(EPISODE) == "P-0123456789 · PT · 2025-03-03 to 2025-03-10 · 4 visits · 2 findings"
    one = EPISODE.model_copy(update={"visits": EPISODE.visits[:1], "findings": [], "discipline": None})
    assert episode_label(one) == "P-0123456789 · ? · 2025-03-03 to 2025-03-03 · 1 visit · 0 findings"


def test_timeline_rows_mark_the_kind_and_the_visits_a_finding_concerns():
    rows = timeline_rows(EPISODE)
    assert [(r["date"].day, r["units"], r["mark"], r["finding"]) for r in rows] == [
        (3, 3, "E", NO_FINDING),
        (5, 4, "", NO_FINDING),
        (7, 3, "", FINDING),  # EPI007; the episode-wide EPI001 marks no visit
        (10, 2, "P", NO_FINDING),
    ]
    assert [r["kind"] for r in rows] == ["evaluation", "daily note", "daily note", "progress report"]


def test_the_timeline_figure_has_a_point_per_visit_in_the_summary_colours():
    traces = timeline_figure(EPISODE).data
    assert [(t.name, t.marker.color, len(t.x)) for t in traces] == [
        (NO_FINDING, VISIT_COLOUR, 3),
        (FINDING, FLAGGED_COLOUR, 1),
    ]
    assert list(traces[0].text) == ["E", "", "P"] and list(traces[0].marker.symbol) == ["diamond", "circle", "square"]
    assert [list(point) for point in traces[1].customdata] == [["ep/visit-03", "daily note"]]
    assert "%{customdata[0]}" in traces[1].hovertemplate and "units" in traces[1].hovertemplate


def test_finding_and_visit_rows():
    assert finding_rows(EPISODE) == [
        {"rule": "EPI007", "severity": "warning", "visit": "ep/visit-03", "message": "EPI007 says so", "fix": "fix EPI007"},
        {"rule": "EPI001", "severity": "warning", "visit": "episode", "message": "EPI001 says so", "fix": "fix EPI001"},
    ]  # fmt: skip
    rows = visit_rows(EPISODE)
    assert rows[1] == {
        "date": date(2025, 3, 5), "note": "ep/visit-02", "visit number": 2, "kind": "daily note", "units": 4,
        "note flags": "units_exceed_minutes", "episode findings": "", "clone match score": None,
    }  # fmt: skip
    assert (rows[2]["episode findings"], rows[2]["clone match score"]) == ("EPI007", 96.4)


def test_visit_reports_are_found_by_result_key_else_by_note_id():
    built_from = make_report("ep/visit-01")
    newer = make_report("ep/visit-01", score=90)
    only_newer = make_report("ep/visit-02")
    stored = [StoredReport("key-1", built_from), StoredReport("key-9", newer), StoredReport("key-8", only_newer)]
    found = episode_reports(EPISODE, stored)
    assert found == {"ep/visit-01": built_from, "ep/visit-02": only_newer}


def test_the_draft_lists_each_sentence_with_its_cited_spans_escaped():
    span = Evidence(text="pt will <b>walk</b> 300 ft", start=10, end=36, match="exact")
    draft = AuthorizationDraft(
        episode_id="E-1",
        sentences=[
            Sentence(text="Functional goals: pt will <b>walk</b> 300 ft.", evidence=[Cited(note_id="ep/visit-04", evidence=span)]),
            Sentence(text="Plan: [plan-of-care end date]."),
        ],
    )  # fmt: skip
    html = draft_html(draft)
    assert "<b>" not in html and "pt will &lt;b&gt;walk&lt;/b&gt; 300 ft" in html
    assert "<code>ep/visit-04</code> “pt will &lt;b&gt;walk" in html
    assert html.index("Functional goals") < html.index("ep/visit-04") < html.index("[plan-of-care end date]")
    assert "no evidence in the notes" in html


def test_the_provider_rows_gain_the_cloned_note_rate_only_with_episodes():
    report = make_report("ep/visit-03")
    episode = EPISODE.model_copy(
        update={"visits": [v.model_copy(update={"clinician": "Dana Lee"}) for v in EPISODE.visits]}
    )
    assert "cloned notes" not in provider_rows([report], [])[0]
    rows = provider_rows([report], [episode])
    assert list(rows[0])[-2:] == ["cloned notes", "audit triggers"]
    assert rows[-1]["provider"] == "all providers" and rows[-1]["cloned notes"] == "1/4 (25%)"


# -- the page ---------------------------------------------------------------------------------------------


@pytest.fixture
def db_url(tmp_path):
    """The app's own database (accounts, queue), apart from the result store the dashboard opens."""
    return f"sqlite:///{tmp_path / 'app.db'}"


@pytest.fixture(scope="module")
def episode_store(tmp_path_factory):
    """A result store holding the reviewed episode notes and their episodes (one `reviewer batch`)."""
    tmp = tmp_path_factory.mktemp("episode-store")
    (result,) = run_episode_batch(tmp, [*BATCH_ARGS, "--out", str(tmp / "out")])
    assert result.exit_code == 0, result.output
    return tmp / "results.db"


def _identifiers() -> set[str]:
    """The patients' names, MRNs and dates of birth the test notes carry."""
    found = set()
    for path in (EPISODES / "notes").rglob("*.txt"):
        text = path.read_text(encoding="utf-8")
        found.update(re.findall(r"Patient: ([A-Z][a-z]+ [A-Z][a-z]+)", text))
        found.update(re.findall(r"MRN: (\S+)", text))
        found.update(re.findall(r"DOB: (\S+)", text))
    assert found, "the test notes name their patients"
    return found


def _everything_shown(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "info", "subheader", "title") for e in getattr(at, kind)]
    parts += [html_of(at), *(opt for s in at.selectbox for opt in s.options)]
    parts += [d.value.to_csv() for d in at.dataframe] + [c.proto.spec for c in at.get("plotly_chart")]
    return "\n".join(parts)


def _dashboard(db_url: str, store_path) -> AppTest:
    """The dashboard on `store_path`, as carol (an admin) signed in sees it."""
    at = sign_in(app(db_url, users=USERS), "carol", "carol-password")
    at.switch_page("pages/dashboard.py").run()
    at.text_input[0].input(str(store_path)).run()
    assert not at.exception and not at.error
    return at


def _table(at: AppTest, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_the_dashboard_shows_each_stored_episode(db_url, episode_store, caplog):
    caplog.set_level(logging.DEBUG)
    episodes = {
        e.visits[0].note_id.split("/")[0]: e for e in load_episodes(ResultStore(f"sqlite:///{episode_store}").engine)
    }
    at = _dashboard(db_url, episode_store)
    assert [s.value for s in at.subheader][-1] == "Episodes"
    chooser = at.selectbox(key="episode")
    assert chooser.options == [
        episode_label(e) for e in sorted(episodes.values(), key=lambda e: (e.patient, e.first_date))
    ]

    copied = episodes["ep05-copied-notes"]
    chooser.set_value(copied.episode_id).run()
    (timeline,) = [c for c in at.get("plotly_chart") if "Units billed per visit" in c.proto.spec]
    traces = json.loads(timeline.proto.spec)["data"]
    assert sum(len(t["x"]) for t in traces) == len(copied.visits)
    assert {t["name"]: len(t["x"]) for t in traces}[FINDING] == 3
    findings = _table(at, "rule")
    assert set(findings["rule"]) == {"EPI007"}
    assert list(findings["visit"]) == [f"ep05-copied-notes/visit-0{n}" for n in (6, 7, 8)]
    visits = _table(at, "clone match score")
    assert len(visits) == len(copied.visits) and visits["clone match score"].max() > 90
    providers = _table(at, "cloned notes")
    assert providers.set_index("provider").loc["Priya Natarajan", "cloned notes"] == "3/20 (15%)"

    at.selectbox(key="episode").set_value(episodes["ep06-kx-threshold"].episode_id).run()
    assert "[patient name]" not in html_of(at)
    at = button(at, "Draft authorization request").click().run()
    assert not at.exception
    draft = html_of(at)
    assert "[patient name]" in draft and "[authorization number]" in draft and "Outcome measures: TUG" in draft
    assert "<code>ep06-kx-threshold/visit-01</code>" in draft

    shown = _everything_shown(at)
    for identifier in _identifiers():
        assert identifier not in shown, "the episode view names a patient"
        assert identifier not in caplog.text, "a patient identifier was logged"


def test_a_signed_in_user_who_asks_sees_the_patient_s_identifiers_and_the_asking_is_audited(
    db_url, episode_store, caplog
):
    caplog.set_level(logging.DEBUG)
    from reviewer.triage.service import TriageQueue

    episodes = {
        e.visits[0].note_id.split("/")[0]: e for e in load_episodes(ResultStore(f"sqlite:///{episode_store}").engine)
    }
    chosen = episodes["ep08-clean-recertified"]
    note = (EPISODES / "notes" / f"{chosen.visits[-1].note_id}.txt").read_text(encoding="utf-8")
    name = re.search(r"Patient: ([A-Z][a-z]+ [A-Z][a-z]+)", note).group(1)
    at = _dashboard(db_url, episode_store)
    at.selectbox(key="episode").set_value(chosen.episode_id).run()
    assert name not in _everything_shown(at)
    at = button(at, "Show the patient's identifiers").click().run()
    assert not at.exception
    assert f"name: {name}" in _everything_shown(at) and "date of birth: " in _everything_shown(at)
    assert name not in caplog.text
    queue = TriageQueue.open(db_url)
    event = queue.audit_trail()[-1]
    assert (event.actor, event.action, event.after) == ("carol", "show_identifiers", {"episode": chosen.episode_id})
    queue.close()


def test_a_store_without_episodes_says_how_to_build_them(db_url, tmp_path):
    store_path = tmp_path / "no-episodes.db"
    store = ResultStore(f"sqlite:///{store_path}")
    store.put(make_report("b1"))
    store.close()
    at = _dashboard(db_url, store_path)
    assert "reviewer batch" in at.info[-1].value and "MRN, or name and date of birth" in at.info[-1].value
    assert not [s for s in at.selectbox if s.label == "Episode"] and len(at.get("plotly_chart")) == 2
    assert "cloned notes" not in _table(at, "provider").columns
