"""The data folder a user typed, allowed only inside the configured root when the app is served."""

from __future__ import annotations

from pathlib import Path

from core.access.roles import AccessDenied, Action, Caller, require


def checked_data_folder(typed: str, caller: Caller, root: Path | None, serving: bool) -> Path | None:
    """The folder to read datasets from, or None for none; AccessDenied if it may not be used.

    When serving, a folder outside `root` is refused with the same words whether or not it exists,
    so the field cannot be used to probe the server's disk. Symlinks are followed before the check.
    """
    typed = typed.strip()
    if not typed:
        return None
    require(caller, Action.DATA_FOLDER)
    if not serving:
        return Path(typed).expanduser()
    if root is None:
        raise AccessDenied("This server has no data root (EXPLORER_DATA_ROOT), so no data folder can be used.")
    refusal = AccessDenied(f"Only folders inside the data root ({root}) can be used here.")
    if typed.startswith("~"):
        raise refusal
    folder = (root / typed).resolve()  # an absolute `typed` replaces root; `..` and symlinks are resolved
    if not folder.is_relative_to(root.resolve()):
        raise refusal
    return folder
