"""The reviewer app: review a note, a batch dashboard and the triage queue (`reviewer ui`)."""

from __future__ import annotations

import streamlit as st

from reviewer.ui import signin

st.set_page_config(page_title="Therapy note reviewer", layout="wide")

signin.keep_session_alive()
if signin.sign_in_required() and signin.current_user() is None:
    pages = [st.Page(signin.sign_in_page, title="Sign in", url_path="sign-in")]
else:
    pages = [st.Page("pages/review.py", title="Review a note", icon=":material/description:", default=True)]
    if signin.is_admin():  # the dashboard opens any result store and compares clinicians: admins only
        pages.append(st.Page("pages/dashboard.py", title="Batch dashboard", icon=":material/bar_chart:"))
    pages.append(st.Page("pages/queue.py", title="Triage queue", icon=":material/inbox:"))
    if signin.current_user():
        st.sidebar.caption(f"Signed in as **{signin.current_user()}** ({signin.current_role()})")
        st.sidebar.button("Sign out", on_click=signin.sign_out)

st.navigation(pages).run()
