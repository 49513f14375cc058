"""Who may do what when the app is served to others: roles, the login, the data-folder root."""

from core.access.data_root import checked_data_folder
from core.access.login import LoginThrottle, client_key, role_for_email, role_for_password
from core.access.roles import LOCAL, SESSION_OWNER_PREFIX, AccessDenied, Action, Caller, Role, allows, require
from core.access.settings import AccessSettings, is_loopback

__all__ = [
    "LOCAL",
    "SESSION_OWNER_PREFIX",
    "AccessDenied",
    "AccessSettings",
    "Action",
    "Caller",
    "LoginThrottle",
    "Role",
    "allows",
    "checked_data_folder",
    "client_key",
    "is_loopback",
    "require",
    "role_for_email",
    "role_for_password",
]
