"""Two roles and the one rule for every state-changing action; core calls `require` before acting."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Role(str, Enum):
    VIEWER = "viewer"
    ADMIN = "admin"


class Action(str, Enum):
    """Everything that changes state someone else could see."""

    TRAIN = "start a training run"
    CONTROL = "stop, pause, resume or change a training run"
    RENAME = "rename or tag a run"
    DELETE = "delete a run"
    EXPORT = "export a run"
    DATA_FOLDER = "change the data folder"


# Viewers explore, predict, train (within the queue limits) and control their own runs; the rest
# changes what every user sees or the server's disk. Making a run the active model is no action
# here: it changes only the session that asks (its Streamlit session state).
ADMIN_ONLY = frozenset({Action.RENAME, Action.DELETE, Action.EXPORT, Action.DATA_FOLDER})
# Actions on something a session owns: a viewer may only act on its own.
OWNED = frozenset({Action.CONTROL})


class AccessDenied(Exception):
    """The caller's role does not allow this action; the message says so in plain words."""


@dataclass(frozen=True)
class Caller:
    """Who is asking: a role and the owner name their runs and jobs carry (a session, or an email)."""

    role: Role
    owner: str

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_lasting(self) -> bool:
        """Whether the same person comes back as this owner after a reload (not a shared-password session)."""
        return not self.owner.startswith(SESSION_OWNER_PREFIX)


# Owners of shared-password sign-ins: one per browser session, so a reload is somebody new.
SESSION_OWNER_PREFIX = "session-"
# The person at the keyboard when the app is not served to anyone else.
LOCAL = Caller(Role.ADMIN, "local")


def allows(caller: Caller, action: Action, owner: str | None = None) -> bool:
    """Whether `caller` may do `action` (to something owned by `owner`, for owned actions)."""
    if caller.is_admin:
        return True
    if action in ADMIN_ONLY:
        return False
    return action not in OWNED or owner == caller.owner


def require(caller: Caller, action: Action, owner: str | None = None) -> None:
    """Raise AccessDenied unless `caller` may do `action`."""
    if allows(caller, action, owner):
        return
    if action in ADMIN_ONLY:
        raise AccessDenied(f"Only an admin can {action.value}; ask the person who runs this server.")
    raise AccessDenied(f"You can only {action.value} you started yourself.")
