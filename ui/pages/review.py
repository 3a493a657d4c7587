"""Review one note: upload or paste it, choose payer and state, see evidence and findings."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from reviewer.backends import ModelError
from reviewer.inputs import NOTE_SUFFIXES, InputError, read_note_bytes
from reviewer.payers import payer_keys
from reviewer.review import review_text
from reviewer.ui import context, signin
from reviewer.ui.components import show_report

PAYERS = payer_keys()

signin.guard_page()
settings = context.settings()
st.title("Review a note")

payer_column, state_column = st.columns(2)
payer = payer_column.selectbox("Payer", PAYERS, index=PAYERS.index(settings.payer))
state = state_column.text_input("State of the place of service (2 letters)", value=settings.state or "", max_chars=2)
source = st.radio("Note", ["Upload a file", "Paste text"], horizontal=True)
note_id: str | None
data: bytes | None
name: str | None
if source == "Upload a file":
    upload = st.file_uploader(
        f"Note file ({', '.join(NOTE_SUFFIXES)}; up to {settings.max_input_bytes / 1_000_000:g} MB)",
        type=[suffix.lstrip(".") for suffix in NOTE_SUFFIXES],
    )
    note_id, data, name = (Path(upload.name).stem, upload.getvalue(), upload.name) if upload else (None, None, None)
else:
    pasted = st.text_area("Note text", height=300)
    note_id, data, name = "pasted-note", pasted.encode("utf-8"), "pasted text"

if st.button("Review", type="primary"):
    st.session_state.pop("review_report", None)
    try:
        if note_id is None or data is None or name is None:  # all three are None together: no file yet
            raise InputError("Choose a note file first.")
        text = read_note_bytes(data, name, settings.max_input_bytes)
        backend = context.backend()
    except (InputError, ModelError) as exc:
        st.error(str(exc))
        st.stop()
    with st.spinner("Reviewing the note…", show_time=True):
        reviewed = review_text(
            text,
            note_id=note_id,
            payer=payer,
            state=state or None,
            backend=backend,
            settings=settings,
            edit_tables=context.edit_tables(),
        )
    item_id = context.queue().enqueue(reviewed, actor=signin.acting_user(), source="upload")
    st.session_state["review_report"] = reviewed
    st.session_state["review_queue_item"] = item_id

report = st.session_state.get("review_report")
if report is not None:
    st.caption(
        f"Reviewed in {report.timing.total_s:.1f} s · in the triage queue as item #{st.session_state['review_queue_item']}"
    )
    show_report(report, key="review")
