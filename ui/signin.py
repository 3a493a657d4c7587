"""Who is using the app: Streamlit's OIDC login when `.streamlit/secrets.toml` has an [auth]
section, else a password form over the configured accounts, else nobody (local single-user mode)."""

from __future__ import annotations

import streamlit as st

from reviewer.ui import context

_SESSION_USER = "signed_in_as"


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


def acting_user() -> str:
    """The name to record in the audit trail."""
    return current_user() or context.LOCAL_ACTOR


def sign_in_page() -> None:
    st.title("Sign in")
    if oidc_configured():
        st.button("Sign in with your organisation", type="primary", on_click=st.login)
        return
    with st.form("sign_in"):
        username = st.text_input("User name")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        if context.accounts().authenticate(username, password):
            st.session_state[_SESSION_USER] = username.strip()
            context.queue().record(actor=username.strip(), action="sign_in")
            st.rerun()
        context.queue().record(actor=username.strip() or "(blank)", action="sign_in_failed")
        st.error("Unknown user name or wrong password.")


def sign_out() -> None:
    context.queue().record(actor=acting_user(), action="sign_out")
    if oidc_configured():
        st.logout()
    st.session_state.pop(_SESSION_USER, None)
