"""A batch at a glance: totals, flags, scores, provider patterns, any note's review, and the episodes."""

from __future__ import annotations

from typing import cast

import pandas as pd
import plotly.express as px
import streamlit as st

from reviewer.authorization import draft_request
from reviewer.dashboard import (
    StoreNotFound,
    batch_totals,
    filter_rows,
    flag_counts,
    load_reports,
    note_rows,
    provider_rows,
    queue_progress,
    store_url,
)
from reviewer.episode_store import load_episodes
from reviewer.episode_view import (
    draft_html,
    episode_label,
    episode_reports,
    finding_rows,
    patient_identifiers,
    timeline_figure,
    visit_rows,
)
from reviewer.ui import context, signin
from reviewer.ui.components import show_report

signin.guard_page(admin_only=True)  # opens any result store and compares clinicians
st.title("Batch dashboard")
location = st.text_input("Result store (SQLite file or database URL)", value=context.settings().database_url)
try:
    store = context.result_store(store_url(location))
except StoreNotFound as exc:
    st.error(str(exc))
    st.stop()


@st.fragment(run_every=2)
def show_queue_progress() -> None:
    """The queued batch's live counts across every worker, refreshed every 2 seconds."""
    progress = queue_progress(store)
    if progress is None:
        return
    st.subheader(f"Queued batch {progress.batch}")
    finished = progress.done + progress.failed
    st.progress(finished / max(1, progress.total), text=f"{finished} of {progress.total} notes reviewed")
    counts = [
        ("Done", progress.done),
        ("Failed", progress.failed),
        ("In flight", progress.in_flight),
        ("Queued", progress.queued),
        ("Retries (429/5xx)", progress.retries),
        ("Taken over", progress.taken_over),
    ]
    for column, (label, value) in zip(st.columns(len(counts)), counts):
        column.metric(label, value)


show_queue_progress()
stored = load_reports(store)
reports = [entry.report for entry in stored]
if not reports:
    st.info("This store has no reviewed notes yet. Run `reviewer batch FOLDER` to fill it.")
    st.stop()

totals = batch_totals(reports)
for column, (label, value) in zip(
    st.columns(6),
    [
        ("Notes", totals.notes),
        ("Reviewed", totals.reviewed),
        ("Failed", totals.failed),
        ("With flags", totals.flagged),
        ("High risk", totals.high_risk),
        ("Units at risk", totals.units_at_risk),
    ],
):
    column.metric(label, value)

if st.button("Send this batch to the triage queue"):
    added = context.queue().enqueue_results(store.engine, actor=signin.acting_user())
    st.success(f"{added} note(s) added to the triage queue ({totals.notes - added} were already there).")

flags_column, scores_column = st.columns(2)
counts = flag_counts(reports)
if counts:
    flags_chart = px.bar(
        pd.DataFrame({"flag": list(counts), "notes": list(counts.values())}),
        x="notes",
        y="flag",
        orientation="h",
        title="Flag frequency",
    )
    flags_column.plotly_chart(flags_chart.update_yaxes(autorange="reversed"))
scores = [r.score for r in reports if r.score is not None]
if scores:
    scores_chart = px.histogram(
        pd.DataFrame({"audit score": scores}), x="audit score", nbins=20, title="Score distribution"
    )
    scores_column.plotly_chart(scores_chart)

st.subheader("Providers")
episodes = load_episodes(store.engine)
st.dataframe(
    pd.DataFrame(provider_rows(reports, episodes)),
    hide_index=True,
    column_config={
        "59/X rate": st.column_config.NumberColumn(format="percent"),
        "97530 share of 97530+97110": st.column_config.NumberColumn(format="percent"),
        "minutes per unit": st.column_config.NumberColumn(format="%.1f"),
        "mean score": st.column_config.NumberColumn(format="%.0f"),
    },
)

st.subheader("Notes")
rows = note_rows(reports)
flag_column, band_column, provider_column, sort_column = st.columns(4)
chosen_flags = flag_column.multiselect("Raising all of", list(counts))
chosen_bands = band_column.multiselect("Risk band", ["high", "medium", "low"])
chosen_providers = provider_column.multiselect("Provider", sorted({row["provider"] for row in rows if row["provider"]}))
# A str by construction (options given, index 0). Streamlit's overloads take typing.Never, which
# Python 3.10 lacks, so a type checker for 3.10 picks the empty-options overload that returns None.
sort_by = cast(str, sort_column.selectbox("Riskiest first by", ["score", "units at risk", "findings"]))
shown = filter_rows(rows, flags=chosen_flags, bands=chosen_bands, providers=chosen_providers, sort_by=sort_by)
st.dataframe(pd.DataFrame(shown), hide_index=True)

by_note = {report.note_id: report for report in reports}
opened = st.selectbox(
    "Open a note's review",
    [None, *(row["note"] for row in shown)],
    format_func=lambda n: "choose a note" if n is None else n,
)
if opened is not None:
    show_report(by_note[opened], key="dashboard")

st.subheader("Episodes")
if not episodes:
    st.info(
        "This store has no episodes. `reviewer batch` builds them from notes that name their patient"
        " (MRN, or name and date of birth)."
    )
    st.stop()
by_id = {episode.episode_id: episode for episode in episodes}
chosen = by_id[
    cast(str, st.selectbox("Episode", list(by_id), format_func=lambda e: episode_label(by_id[e]), key="episode"))
]
st.plotly_chart(timeline_figure(chosen))
st.markdown("**Episode findings**")
if chosen.findings:
    st.dataframe(pd.DataFrame(finding_rows(chosen)), hide_index=True)
else:
    st.caption("No episode findings.")
st.markdown("**Visits**")
st.dataframe(
    pd.DataFrame(visit_rows(chosen)),
    hide_index=True,
    column_config={"clone match score": st.column_config.NumberColumn(format="%.0f")},
)
if st.button("Show the patient's identifiers"):
    identifiers = patient_identifiers(chosen, episode_reports(chosen, stored))
    context.queue().record(
        actor=signin.acting_user(), action="show_identifiers", details={"episode": chosen.episode_id}
    )
    st.write(" · ".join(f"{key}: {value}" for key, value in identifiers.items()) or "The notes locate no identifier.")
if st.button("Draft authorization request"):
    st.html(draft_html(draft_request(chosen, episode_reports(chosen, stored))))
