"""The login gate: when the app is served to others, no page runs before its visitor signs in."""

from __future__ import annotations

import uuid

import streamlit as st
from streamlit.errors import StreamlitAPIException

from core.access import (
    LOCAL,
    SESSION_OWNER_PREFIX,
    AccessSettings,
    Caller,
    LoginThrottle,
    Role,
    client_key,
    role_for_email,
    role_for_password,
)

CALLER_KEY = "caller"


@st.cache_resource(show_spinner=False)
def login_throttle() -> LoginThrottle:
    """Wrong-password counts per client address, shared by every session of this server."""
    return LoginThrottle()


def access_settings() -> AccessSettings:
    """The access settings from Streamlit's secrets and the environment; if they are wrong, say so and stop."""
    try:
        # Only a secrets file that exists is read: asking st.secrets for a missing one shows an error.
        secrets = st.secrets.to_dict() if st.secrets.load_if_toml_exists() else {}
        return AccessSettings.load(secrets)
    except (ValueError, TypeError, StreamlitAPIException) as error:
        st.error(f"The access settings cannot be used, so the app does not open. {error}")
        st.stop()


# Whoever has not signed in: no page runs for them, and should one ask, they may do nothing that needs a role.
NOBODY = Caller(Role.VIEWER, "nobody")


def is_serving() -> bool:
    """Whether the app is shared: reachable from other machines, or a login set up (say, behind a proxy)."""
    return access_settings().is_serving(st.get_option("server.address"))


def current_caller() -> Caller:
    """Who this session is; `require_sign_in` has set it before any page runs."""
    return st.session_state.get(CALLER_KEY, NOBODY)


def signed_in() -> bool:
    """Whether this session may see the pages: nobody else can reach the app, or it has signed in."""
    return not is_serving() or _has_signed_in()


def _has_signed_in() -> bool:
    return st.session_state.get(CALLER_KEY) not in (None, LOCAL)


def require_sign_in() -> Caller:
    """The signed-in caller; until someone signs in, draw the sign-in form and end the run here."""
    if not is_serving():
        st.session_state[CALLER_KEY] = LOCAL
        return LOCAL
    settings = access_settings()
    problem = settings.serving_problem()
    if problem:
        st.error(
            "This app is shared (reachable from other machines, or a login is set) but not safely, "
            f"so it stays closed. {problem}"
        )
        st.stop()
    if not _has_signed_in():
        caller = _sign_in(settings)
        if caller is None:
            st.stop()
        st.session_state[CALLER_KEY] = caller
        st.rerun()  # now with the page menu, on the page the visitor asked for
    caller = st.session_state[CALLER_KEY]
    _signed_in_line(caller)
    return caller


def _new_session_caller(role: Role) -> Caller:
    # Each signed-in session owns its own jobs and runs, even when everyone shares one password.
    return Caller(role, f"{SESSION_OWNER_PREFIX}{uuid.uuid4().hex[:10]}")


def _sign_in(settings: AccessSettings) -> Caller | None:
    st.title("CNN Model Explorer")
    if settings.oidc:
        caller = _identity_provider_sign_in(settings)
        if caller is not None:
            return caller
    if settings.password or settings.admin_password:
        return _password_sign_in(settings)
    return None


def _identity_provider_sign_in(settings: AccessSettings) -> Caller | None:
    if not st.user.get("is_logged_in"):
        st.button("Sign in with your organisation's account", key="oidc_login", on_click=st.login)
        return None
    email = str(st.user.get("email") or "")
    role = role_for_email(settings, email, verified=st.user.get("email_verified"))
    if role is None:
        st.error(f"{email or 'Your account'} is not on this server's list. Ask the person who runs it to add you.")
        st.button("Sign out", key="oidc_logout", on_click=st.logout)
        return None
    return Caller(role, email.lower())


def _password_sign_in(settings: AccessSettings) -> Caller | None:
    with st.form("sign_in", enter_to_submit=True):
        typed = st.text_input("Password", type="password", key="sign_in_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        return None
    role, wait = login_throttle().attempt(client_key(st.context.ip_address), lambda: role_for_password(settings, typed))
    if wait > 0:
        # The password is not even compared while waiting: guessing faster gains nothing.
        st.error(f"Too many wrong passwords from your address. Try again in {wait:.0f} s.")
        return None
    if role is None:
        st.error("Wrong password. Ask the person who runs this server for it.")
        return None
    return _new_session_caller(role)


def _signed_in_line(caller: Caller) -> None:
    with st.sidebar:
        left, right = st.columns([3, 2], vertical_alignment="center")
        left.caption(f"Signed in as **{caller.role.value}**")
        if right.button("Sign out", key="sign_out"):
            st.session_state.pop(CALLER_KEY, None)
            if st.user.get("is_logged_in"):
                st.logout()
            st.rerun()
