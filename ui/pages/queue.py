"""The triage queue: claim the riskiest note, accept or override each finding, decide the note.

Every button passes the item version this page showed, so a decision made on a stale view is
refused with the library's message instead of overwriting another reviewer's work.
"""

from __future__ import annotations

import json
from typing import cast

import pandas as pd
import streamlit as st

from reviewer.triage import TriageError, corpus_zip, export_overrides
from reviewer.ui import context, signin
from reviewer.ui.components import show_report

VIEWS = {"Waiting": ("open", "claimed"), "Decided": ("cleared", "returned", "escalated"), "All": None}
OUTCOMES = {"cleared": "Clear it", "returned": "Return to the clinician", "escalated": "Escalate"}
PAST_TENSE = {"accept": "accepted", "override": "overridden"}
AUDIT_ROWS = 500

signin.guard_page()
st.title("Triage queue")
user = signin.current_user()
if user is None:
    st.info(
        "The queue needs signed-in reviewers. Add one with `reviewer users add NAME` (or set REVIEWER_USERS, "
        "or an [auth] section in .streamlit/secrets.toml for single sign-on), then reload."
    )
    st.stop()
queue = context.queue()


def run(call, /, *args, **kwargs) -> None:
    """Button callback: make the library call, keep its outcome to show on the rerun."""
    try:
        call(*args, **kwargs)
        st.session_state["queue_message"] = ("success", "Saved.")
    except TriageError as exc:
        st.session_state["queue_message"] = ("error", str(exc))


def save_finding(item_id: int, number: int, version: int) -> None:
    prefix = f"finding-{item_id}-{number}-v{version}"
    action = "accept" if st.session_state[f"{prefix}-action"] == "Accept" else "override"
    run(
        queue.decide_finding,
        item_id,
        number - 1,
        actor=user,
        version=version,
        action=action,
        comment=st.session_state[f"{prefix}-comment"],
    )


def decide(item_id: int, version: int) -> None:
    suffix = f"{item_id}-v{version}"
    fixes = st.session_state[f"fixes-{suffix}"].splitlines()
    run(
        queue.decide_note,
        item_id,
        actor=user,
        version=version,
        outcome=st.session_state[f"outcome-{suffix}"],
        comment=st.session_state[f"note-comment-{suffix}"],
        fixes=fixes,
    )


def show_audit(events) -> None:
    rows = [
        {
            "when": e.at,
            "who": e.actor,
            "action": e.action,
            "item": e.item_id,
            "before": json.dumps(e.before) if e.before else "",
            "after": json.dumps(e.after) if e.after else "",
        }
        for e in events
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True)


def prepare_export() -> None:
    if signin.is_admin():  # the button is shown to admins only; a forged callback gets nothing either
        st.session_state["overrides_zip"] = corpus_zip(export_overrides(queue, actor=user))


if "queue_message" in st.session_state:
    kind, message = st.session_state.pop("queue_message")
    (st.success if kind == "success" else st.error)(message)

# A str by construction (options given, index 0). Streamlit's overloads take typing.Never, which
# Python 3.10 lacks, so a type checker for 3.10 picks the empty-options overload that returns None.
view = cast(str, st.radio("Show", list(VIEWS), horizontal=True))
entries = queue.entries(VIEWS[view])
if not entries:
    st.info("Nothing here. Review a note or send a batch from the dashboard to fill the queue.")
else:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "item": e.id,
                    "note": e.note_id,
                    "risk": "needs a human reading"
                    if e.review_status == "uncertain"
                    else (e.risk_band or e.review_status),
                    "score": e.score,
                    "status": e.status,
                    "claimed by": e.claimed_by or "",
                    "decided by": e.decided_by or "",
                    "provider": e.provider or "",
                    "source": e.source,
                }
                for e in entries
            ]
        ),
        hide_index=True,
    )

if signin.is_admin():  # everyone's actions and a bulk download of note text: admins only
    with st.expander(f"Audit trail of all actions (latest {AUDIT_ROWS})"):
        show_audit(queue.audit_trail(latest=AUDIT_ROWS))

    with st.expander("Export overrides as labelled cases (FORMAT.md) for regression tests"):
        st.button("Prepare the export", on_click=prepare_export)
        if "overrides_zip" in st.session_state:
            st.download_button(
                "Download overrides corpus (zip)",
                st.session_state["overrides_zip"],
                file_name="overrides-corpus.zip",
                mime="application/zip",
                on_click="ignore",
            )

labels = {e.id: f"#{e.id} {e.note_id} ({e.risk_band or e.review_status}, {e.status})" for e in entries}
item_id = st.selectbox(
    "Open item",
    [None, *labels],
    format_func=lambda i: "choose an item" if i is None else labels[i],
    key="queue-open-item",
)
if item_id is None:
    st.stop()
item = queue.item(item_id)
mine = item.claimed_by == user and item.status == "claimed"

if item.status in ("open", "claimed") and not mine:
    if item.claimed_by:
        st.warning(f"Claimed by {item.claimed_by}.")
        st.button(
            "Take it over",
            on_click=run,
            args=(queue.claim, item.id),
            kwargs={"actor": user, "version": item.version, "take_over": True},
        )
    else:
        st.button(
            "Claim",
            type="primary",
            on_click=run,
            args=(queue.claim, item.id),
            kwargs={"actor": user, "version": item.version},
        )
elif mine:
    st.button("Release", on_click=run, args=(queue.release, item.id), kwargs={"actor": user, "version": item.version})
else:
    st.info(
        f"{item.status.capitalize()} by {item.decided_by}"
        + (f": {item.decision_comment}" if item.decision_comment else "")
    )
    for fix in item.decision_fixes:
        st.markdown(f"- {fix}")

if mine:
    st.subheader("Your decisions")
    for number, finding in enumerate(item.report.findings, start=1):
        verdict = item.verdicts.get(number - 1)
        status = f" · {PAST_TENSE[verdict.action]} by {verdict.decided_by}" if verdict else ""
        with st.container(border=True):
            scope = " (episode)" if finding.scope == "episode" else ""
            st.markdown(f"**#{number} {finding.rule}{scope}** {finding.message}{status}")
            prefix = f"finding-{item.id}-{number}-v{item.version}"  # a new version starts fresh widgets
            left, right, button = st.columns([1, 3, 1], vertical_alignment="bottom")
            left.radio(
                "Verdict",
                ["Accept", "Override"],
                key=f"{prefix}-action",
                horizontal=True,
                index=1 if verdict and verdict.action == "override" else 0,
            )
            right.text_input(
                "Comment (required to override)", key=f"{prefix}-comment", value=verdict.comment if verdict else ""
            )
            button.button("Save", key=f"{prefix}-save", on_click=save_finding, args=(item.id, number, item.version))
    suffix = f"{item.id}-v{item.version}"
    st.radio("Decision", list(OUTCOMES), format_func=OUTCOMES.get, key=f"outcome-{suffix}", horizontal=True)
    st.text_area(
        "Fixes for the clinician (one a line; used when returned)",
        value="\n".join(item.fixes_to_make()),
        key=f"fixes-{suffix}",
    )
    st.text_input("Comment (required to escalate)", key=f"note-comment-{suffix}")
    st.button("Decide the note", type="primary", on_click=decide, args=(item.id, item.version))

show_report(item.report, key=f"queue-{item.id}")

with st.expander("Audit trail of this note"):
    show_audit(queue.audit_trail(item.id))
