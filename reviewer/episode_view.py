"""What the dashboard's episode view shows: labels, a timeline, the findings and visits, a draft request.

Pure functions over stored episodes (`reviewer.episode_store`), so the page only lays them out and
they are tested without Streamlit. Like the stored episodes, they name the patient only by the
truncated keyed hash; only `patient_identifiers` reads the identifiers, from the stored note text at
the offsets the extraction located, for a signed-in user who asks (the page records that she did).
"""

from __future__ import annotations

from html import escape

import plotly.graph_objects as go

from reviewer.authorization import AuthorizationDraft
from reviewer.dashboard import StoredReport
from reviewer.episode_outputs import FLAGGED_COLOUR, KIND_MARKS, VISIT_COLOUR, flagged_visits
from reviewer.episodes import Episode
from reviewer.identity import identity_at
from reviewer.report import NoteReport

FINDING, NO_FINDING = "episode finding", "no finding"
_SYMBOLS = {"evaluation": "diamond", "progress_report": "square", "reevaluation": "star"}


def episode_label(episode: Episode) -> str:
    """How the episode selectbox names an episode: by the patient's hash, never a name or MRN."""
    visits, findings = len(episode.visits), len(episode.findings)
    return (
        f"{episode.patient} · {episode.discipline or '?'} · {episode.first_date} to {episode.last_date}"
        f" · {visits} visit{'s' * (visits != 1)} · {findings} finding{'s' * (findings != 1)}"
    )


def kind_label(kind: str) -> str:
    return kind.replace("_", " ").replace("reevaluation", "re-evaluation")


def timeline_rows(episode: Episode) -> list[dict]:
    """One point per visit: its date, units billed, whether an episode finding concerns it, its kind mark."""
    flagged = flagged_visits(episode)
    return [
        {
            "date": visit.date_of_service,
            "units": visit.units,
            "note": visit.note_id,
            "kind": kind_label(visit.kind),
            "mark": KIND_MARKS.get(visit.kind, ""),
            "symbol": _SYMBOLS.get(visit.kind, "circle"),
            "finding": FINDING if visit.note_id in flagged else NO_FINDING,
        }
        for visit in episode.visits
    ]


def timeline_figure(episode: Episode) -> go.Figure:
    """The visits on a date axis, y = units billed, in the colours of summary.html's timeline; E, P and R
    mark the evaluation, progress reports and re-evaluations, hovering shows the visit."""
    rows = timeline_rows(episode)
    figure = go.Figure()
    for name, colour in ((NO_FINDING, VISIT_COLOUR), (FINDING, FLAGGED_COLOUR)):
        points = [row for row in rows if row["finding"] == name]
        if points:
            figure.add_trace(
                go.Scatter(
                    name=name,
                    x=[row["date"] for row in points],
                    y=[row["units"] for row in points],
                    mode="markers+text",
                    text=[row["mark"] for row in points],
                    textposition="top center",
                    marker={"color": colour, "size": 12, "symbol": [row["symbol"] for row in points]},
                    customdata=[[row["note"], row["kind"]] for row in points],
                    hovertemplate="%{customdata[0]}<br>%{x|%Y-%m-%d}: %{y} units<br>%{customdata[1]}<extra></extra>",
                )
            )
    top = max((row["units"] for row in rows), default=0)
    return figure.update_layout(
        title="Units billed per visit (E evaluation, P progress report, R re-evaluation)",
        xaxis={"title": "date of service", "type": "date"},
        yaxis={"title": "units billed", "range": [0, top + 1.5], "dtick": 1},
        legend={"orientation": "h", "y": -0.25},
    )


def finding_rows(episode: Episode) -> list[dict]:
    return [
        {
            "rule": f.rule,
            "severity": f.severity,
            "visit": f.note_id or "episode",
            "message": f.message,
            "fix": f.fix,
        }
        for f in episode.findings
    ]


def visit_rows(episode: Episode) -> list[dict]:
    """The visits as the episode rules read them; the clone score is the best match with an earlier note."""
    rules: dict[str, list[str]] = {}
    for finding in episode.findings:
        if finding.note_id:
            rules.setdefault(finding.note_id, []).append(finding.rule)
    return [
        {
            "date": visit.date_of_service,
            "note": visit.note_id,
            "visit number": visit.visit_number,
            "kind": kind_label(visit.kind),
            "units": visit.units,
            "note flags": ", ".join(visit.note_flags),
            "episode findings": ", ".join(rules.get(visit.note_id, [])),
            "clone match score": visit.clone_match.score if visit.clone_match else None,
        }
        for visit in episode.visits
    ]


def episode_reports(episode: Episode, stored: list[StoredReport]) -> dict[str, NoteReport]:
    """Each visit's report by note id, for `draft_request`: the report the batch built the visit from
    (its result key), else the note's newest report (the note was reviewed again since)."""
    by_key = {entry.result_key: entry.report for entry in stored}
    by_note = {entry.report.note_id: entry.report for entry in stored}
    found = {}
    for visit in episode.visits:
        report = by_key.get(visit.result_key) or by_note.get(visit.note_id)
        if report is not None:
            found[visit.note_id] = report
    return found


def draft_html(draft: AuthorizationDraft) -> str:
    """The draft, each sentence followed by the spans it rests on (note id and quoted span), escaped:
    the spans are note text."""
    parts = []
    for sentence in draft.sentences:
        cited = "".join(
            f"<li><code>{escape(c.note_id)}</code> “{escape(c.evidence.text)}”</li>" for c in sentence.evidence
        )
        parts.append(
            f"<p class='draft-sentence'>{escape(sentence.text)}</p>"
            + (f"<ul class='draft-evidence'>{cited}</ul>" if cited else "<p><em>no evidence in the notes</em></p>")
        )
    return "<div class='authorization-draft'>" + "".join(parts) + "</div>"


def patient_identifiers(episode: Episode, reports: dict[str, NoteReport]) -> dict[str, str]:
    """The patient as the episode's latest note that names them writes it: name, date of birth, MRN."""
    for visit in reversed(episode.visits):
        report = reports.get(visit.note_id)
        if report is None or report.extraction is None or report.note_text is None:
            continue
        identity = identity_at(report.note_text, report.extraction.episode)
        found = {
            "name": identity.name or "",
            "date of birth": identity.date_of_birth.isoformat() if identity.date_of_birth else "",
            "MRN": identity.mrn or "",
        }
        if any(found.values()):
            return {key: value for key, value in found.items() if value}
    return {}
