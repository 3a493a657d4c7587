"""A batch's episodes: built and reviewed after the notes, written to OUT/episodes.json, listed,
and drawn in summary.html (a timeline per episode: visits, units, progress reports, findings).

episodes.json holds no note text and no identifier: patients and episodes appear as truncated
keyed hashes, authorization numbers as keyed hashes, identifiers as offsets only.
"""

from __future__ import annotations

import os
from html import escape
from pathlib import Path

from reviewer.episodes import Episode, EpisodeSet, build_episodes
from reviewer.fee_schedule import FeeSchedule
from reviewer.identity import install_secret
from reviewer.report import NoteReport
from reviewer.rules.episode import evaluate_episodes
from reviewer.settings import Settings

EPISODES_FILE = "episodes.json"
KIND_MARKS = {"evaluation": "E", "progress_report": "P", "reevaluation": "R"}  # how a timeline marks a visit
VISIT_COLOUR, FLAGGED_COLOUR = "#3b6ea5", "#b00020"  # a visit; a visit an episode finding concerns


def review_episodes(
    reports: list[NoteReport],
    settings: Settings,
    *,
    fee_schedule: FeeSchedule | None = None,
    keys: dict[str, str] | None = None,
    earlier: list[tuple[str, NoteReport]] | None = None,
) -> EpisodeSet:
    """Group a batch's reports into episodes and run the episode rules on them.

    `earlier`: (key, report) of notes reviewed by earlier batches. They join their patients' episodes,
    so a weekly batch of new visits is checked against the whole episode (progress reports, KX,
    clones); only the episodes holding a visit of this batch are returned."""
    secret = install_secret(settings.identity_secret_file)
    every_key = {**{report.note_id: key for key, report in earlier or []}, **(keys or {})}
    episodes = build_episodes(
        reports, secret=secret, keys_by_note=every_key, earlier=[report for _, report in earlier or []]
    )
    evaluate_episodes(episodes.episodes, fee_schedule=fee_schedule)
    if earlier:
        own = {r.note_id for r in reports}
        episodes.episodes = [e for e in episodes.episodes if any(v.note_id in own for v in e.visits)]
    return episodes


def write_episodes(episodes: EpisodeSet, out_dir: Path) -> Path:
    path = Path(out_dir) / EPISODES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(episodes.model_dump_json(indent=1) + "\n", encoding="utf-8")
    os.replace(temporary, path)
    return path


def read_episodes(out_dir: Path) -> EpisodeSet:
    """The episodes a batch wrote into `out_dir`. Raises FileNotFoundError when it wrote none."""
    path = Path(out_dir) / EPISODES_FILE
    return EpisodeSet.model_validate_json(path.read_text(encoding="utf-8"))


def episode_lines(episodes: EpisodeSet) -> list[str]:
    """The listing `reviewer episodes OUT` prints: one line per episode, then its findings."""
    lines = []
    for episode in episodes.episodes:
        lines.append(
            f"{episode.patient}  {episode.episode_id}  {episode.discipline or '?':3}  {episode.first_date} to"
            f" {episode.last_date}  {len(episode.visits)} visits, {episode.treatment_days} treatment days,"
            f" {sum(v.units for v in episode.visits)} units, {len(episode.findings)} findings"
        )
        for finding in episode.findings:
            lines.append(f"    {finding.rule} {finding.severity:7} {finding.note_id or '(episode)'}: {finding.message}")
    if episodes.unidentified or episodes.undated:
        lines.append(
            f"Not placed in an episode: {episodes.unidentified} notes without MRN or name + date of birth,"
            f" {episodes.undated} without a date of service."
        )
    return lines


def episodes_html(episodes: EpisodeSet) -> str:
    """The summary's episode view: per episode, a timeline and its findings."""
    if not episodes.episodes:
        return "<p>No episodes: no reviewed note names its patient (MRN, or name and date of birth).</p>"
    parts = []
    for episode in episodes.episodes:
        parts.append(
            f"<h3>{escape(episode.patient)} · {escape(episode.discipline or '?')} · {episode.first_date} to"
            f" {episode.last_date} · {len(episode.visits)} visits</h3>"
        )
        parts.append(timeline_svg(episode))
        if episode.findings:
            rows = "".join(
                f"<tr><td>{escape(f.rule)}</td><td>{escape(f.severity)}</td><td>{escape(f.note_id or 'episode')}</td>"
                f"<td>{escape(f.message)}</td></tr>"
                for f in episode.findings
            )
            parts.append(f"<table><tr><th>rule</th><th>severity</th><th>note</th><th>finding</th></tr>{rows}</table>")
        else:
            parts.append("<p>No episode findings.</p>")
    return "\n".join(parts)


def timeline_svg(episode: Episode, width: int = 900) -> str:
    """Visits on a date axis: bar height is units billed, P marks a progress report, red a visit with a finding."""
    span = max(1, (episode.last_date - episode.first_date).days)
    flagged = flagged_visits(episode)
    left, right, base, scale = 30, 20, 70, 8
    marks = []
    for visit in episode.visits:
        x = left + (width - left - right) * (visit.date_of_service - episode.first_date).days / span
        height = min(60, max(2, visit.units * scale))
        colour = FLAGGED_COLOUR if visit.note_id in flagged else VISIT_COLOUR
        marks.append(
            f"<rect x='{x - 4:.1f}' y='{base - height}' width='8' height='{height}' style='fill:{colour}'>"
            f"<title>{escape(visit.note_id)} {visit.date_of_service} {visit.units} units {escape(visit.kind)}</title></rect>"
        )
        if visit.kind != "daily_note":
            label = KIND_MARKS.get(visit.kind, "?")
            marks.append(f"<text x='{x - 4:.1f}' y='{base + 14}'>{label}</text>")
    axis = (
        f"<line x1='{left}' y1='{base}' x2='{width - right}' y2='{base}' stroke='#999'/>"
        f"<text x='{left}' y='{base + 28}'>{episode.first_date}</text>"
        f"<text x='{width - right - 70}' y='{base + 28}'>{episode.last_date}</text>"
    )
    return f"<svg class='chart timeline' width='{width}' height='{base + 34}' role='img'>{axis}{''.join(marks)}</svg>"


def flagged_visits(episode: Episode) -> set[str]:
    """The note ids of the visits an episode finding concerns (a finding of the whole episode marks none)."""
    return {f.note_id for f in episode.findings if f.note_id}


def cloned_note_rates(episodes: EpisodeSet, overall: str | None = None) -> dict[str, tuple[int, int]]:
    """Per clinician: (notes flagged as cloned, notes in episodes); under the name `overall`, if given,
    the same over all clinicians (the provider tables' batch row)."""
    rates: dict[str, tuple[int, int]] = {}
    for episode in episodes.episodes:
        cloned = {f.note_id for f in episode.findings if f.rule == "EPI007"}
        for visit in episode.visits:
            name = visit.clinician or "(no signature)"
            flagged, total = rates.get(name, (0, 0))
            rates[name] = (flagged + (visit.note_id in cloned), total + 1)
    if overall is not None:
        rates[overall] = (sum(f for f, _ in rates.values()), sum(t for _, t in rates.values()))
    return rates


def cloned_rate_text(rate: tuple[int, int] | None) -> str:
    """A clinician's cloned-note rate: notes flagged EPI007 of the notes placed in episodes."""
    if not rate or not rate[1]:
        return "–"
    return f"{rate[0]}/{rate[1]} ({rate[0] / rate[1]:.0%})"
