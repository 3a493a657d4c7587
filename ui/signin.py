"""Who is using the app: Streamlit's OIDC login when `.streamlit/secrets.toml` has an [auth]
section, else a password form over the configured accounts, else nobody (local single-user mode).

A signed-in session ends after `session_idle_minutes` without a page run. Roles (reviewer, admin)
decide which pages and sections the app shows; local single-user mode is an admin.
"""

from __future__ import annotations

import time

import streamlit as st

from reviewer.ui import context

_SESSION_USER = "signed_in_as"
_SESSION_ROLE = "signed_in_role"
_SESSION_SEEN = "signed_in_seen"  # time.time() of the session's last page run
_SESSION_EXPIRED = "session_expired"
ADMIN = "admin"


def oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except FileNotFoundError:  # no secrets.toml at all (Streamlit's StreamlitSecretNotFoundError)
        return False


def sign_in_required() -> bool:
    return oidc_configured() or context.accounts().any()


def current_user() -> str | None:
    if oidc_configured():
        if not st.user.is_logged_in:
            return None
        user = st.user.get("email") or st.user.get("name")
        return user if isinstance(user, str) else None  # the OIDC email and name claims are strings
    return st.session_state.get(_SESSION_USER)


def current_role() -> str | None:
    """The signed-in user's role; admin in local single-user mode; None when nobody is signed in."""
    if not sign_in_required():
        return ADMIN
    user = current_user()
    if user is None:
        return None
    if oidc_configured():  # a single-sign-on user has the role of the account of that name, else reviewer
        return context.accounts().role(user) or "reviewer"
    return st.session_state.get(_SESSION_ROLE)


def is_admin() -> bool:
    return current_role() == ADMIN


def acting_user() -> str:
    """The name to record in the audit trail."""
    return current_user() or context.LOCAL_ACTOR


def keep_session_alive() -> None:
    """Called on every page run: a session idle past its limit is signed out, else its clock restarts."""
    user = current_user()
    if user is None:
        return
    now = time.time()
    seen = st.session_state.get(_SESSION_SEEN, now)
    if now - seen > context.settings().session_idle_minutes * 60:
        context.queue().record(actor=user, action="session_expired")
        sign_out(record=False)
        st.session_state[_SESSION_EXPIRED] = True
        return
    st.session_state[_SESSION_SEEN] = now


def guard_page(admin_only: bool = False) -> None:
    """First thing on every page. The entrypoint checks the session too, but a page can run on its
    own (AppTest reruns only the page, as may a later Streamlit): nobody signed in, an expired
    session, or a reviewer on an admin page sees nothing of it."""
    keep_session_alive()
    if sign_in_required() and current_user() is None:
        expired = st.session_state.pop(_SESSION_EXPIRED, False)
        st.info("Your session expired. Reload the page to sign in again." if expired else "Sign in first.")
        st.stop()
    if admin_only and not is_admin():
        st.error("This page is for admins.")
        st.stop()


def sign_in_page() -> None:
    st.title("Sign in")
    if st.session_state.pop(_SESSION_EXPIRED, False):
        st.info("Your session expired. Sign in again.")
    if oidc_configured():
        st.button("Sign in with your organisation", type="primary", on_click=st.login)
        return
    with st.form("sign_in"):
        username = st.text_input("User name")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        outcome = context.accounts().sign_in(username, password)
        if outcome.role is not None:
            st.session_state[_SESSION_USER] = outcome.username
            st.session_state[_SESSION_ROLE] = outcome.role
            st.session_state[_SESSION_SEEN] = time.time()
            st.rerun()
        if outcome.refused == "locked":
            st.error("Too many failed sign-ins: this user is locked for 15 minutes.")
        else:
            st.error("Unknown user name or wrong password.")


def sign_out(record: bool = True) -> None:
    if record:
        context.queue().record(actor=acting_user(), action="sign_out")
    if oidc_configured():
        st.logout()
    for key in (_SESSION_USER, _SESSION_ROLE, _SESSION_SEEN):
        st.session_state.pop(key, None)
