"""For an admin of a shared server: every run training or waiting, whoever started it, with a Stop button."""

from __future__ import annotations

import streamlit as st

from app_pages.access_gate import current_caller, is_serving
from app_pages.resources import training_scheduler


def render_server_jobs() -> None:
    """List the server's running and queued jobs with their owners; admins of a served app only."""
    caller = current_caller()
    if not caller.is_admin or not is_serving():
        return
    scheduler = training_scheduler()
    jobs = [*scheduler.running(), *scheduler.queued()]
    with st.expander(f"Training on this server ({len(jobs)})", icon=":material/dns:"):
        if not jobs:
            st.caption("Nothing is training or waiting.")
        for job in jobs:
            snapshot = job.snapshot()
            if snapshot.queue_position:
                where = f"waiting, place {snapshot.queue_position}"
            else:
                where = f"{snapshot.state.value}, {snapshot.epoch_words}"
            text, stop = st.columns([5, 1], vertical_alignment="center")
            text.markdown(f"`{job.owner}` · {job.spec.architecture} on {job.dataset.info.display_name} · {where}")
            if stop.button("Stop", key=f"admin_stop_{job.id}", disabled=snapshot.state.is_over):
                job.stop(by=caller)
                st.rerun()
