"""The real app under load, in Chromium: a visitor while others watch training, redraw cost, a crowd, drawing.

    .venv/bin/python -m bench.load_under_training [--tries 7] [--window 20] [--rounds 3] [--soak-minutes 10]

Prints JSON. Everything runs against `streamlit run app.py` on loopback with a fresh runs folder,
driven by Debian's Chromium as a person would (bench/app_server.py, shared with the e2e tests).

- drawing: on an idle server, mouse up after a stroke -> the answer on the Predict page changes,
  split into the canvas round trip (mouse up -> the rerun starts) and the rerun (-> it ends); the
  server's share, step by step, timed in this process with the same calls the page makes; and the
  same strokes on the floor app (bench/canvas_floor_app.py: the canvas alone, no model), which is
  what the canvas component and Streamlit take before the app does anything;
- pages: a new session's goto -> a usable Predict page, and an upload -> its answer, with 0, 1 and
  2 tabs watching a live training run;
- cpu: server CPU per watching tab, and training throughput with 0, 1 and 2 watchers;
- redraw: the live panel's server work per redraw at the first epoch and after 8,000 batches, in
  this process with the panel's own calls, against building the figure anew from every point;
- crowd: twelve new sessions, started together while two tabs watch training, each uploading three
  images: errors, p95 round trip, server RSS before and after;
- soak (--soak-minutes, 0 to skip): two watching tabs and a prediction every 5 s; server RSS over time.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

from bench.app_steps import (
    RUNNING,
    answer_shown,
    browser_cpu_seconds,
    close,
    cpu_seconds,
    digit_png,
    new_page,
    open_predict,
    probe_step,
    rss_mb,
    start_long_run,
    start_upload,
    upload_and_wait,
    wait_usable_predict,
)
from bench.machine import machine_info
from bench.percentiles import percentiles
from bench.server_costs import drawing_server_steps, redraw_cost
from tests.app_server import CHROMIUM_FLAGS, find_chromium, running_app

CROWD = 12
CROWD_UPLOADS = 3
# 20 timed strokes after the warm-up: a p50 of 10 moved by 10 ms between otherwise equal runs.
DRAWN_STROKES = 22
# Seconds for a tab that starts or stops watching to settle before a window starts.
SETTLE_S = 5.0
WARMUP_STROKES = 2


# --- the scenarios ---------------------------------------------------------------------------------

DRAWING_PROBES = """() => {
  window.__marks = [];
  const app = document.querySelector('[data-testid="stApp"]');
  new MutationObserver(() => window.__marks.push([app.getAttribute('data-test-script-state'), performance.now()]))
    .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
  document.addEventListener('mouseup', () => { window.__up = performance.now(); }, true);
  window.__answer = () => {
    const line = [...document.querySelectorAll('[data-testid="stMarkdownContainer"]')]
      .find(e => e.innerText.includes(' · '));
    return line ? line.innerText : '';
  };
  window.__answerChanged = (before) => new Promise(resolve => {
    const check = () => {
      const now = window.__answer();
      if (now && now !== before) resolve(performance.now()); else requestAnimationFrame(check);
    };
    check();
  });
}"""


def drawing_latency(browser: Browser, page_url: str, wait_ready: Callable[[Page], None] = wait_usable_predict) -> dict:
    """Mouse up after a stroke -> the answer changes, on an idle server (the Predict page, or the floor app)."""
    page = new_page(browser)
    page.goto(page_url)
    wait_ready(page)
    canvas = page.locator("canvas").first
    canvas.wait_for()
    page.evaluate(DRAWING_PROBES)
    box = canvas.bounding_box()
    totals, round_trips, reruns = [], [], []
    for stroke in range(DRAWN_STROKES):
        before = page.evaluate("window.__answer()")
        page.evaluate("window.__marks.length = 0")
        # Strokes a person might add to a digit: each a short line somewhere new.
        x0 = box["x"] + 70 + 14 * (stroke % 10)
        y0 = box["y"] + 50 + 9 * stroke
        page.mouse.move(x0, y0)
        page.mouse.down()
        for step in range(12):
            page.mouse.move(x0 + 3 * step, y0 + 8 * step)
        page.mouse.up()
        answered = page.evaluate("(before) => window.__answerChanged(before)", before)
        page.wait_for_function("document.querySelector('[data-testid=\"stApp\"]')"
                               ".getAttribute('data-test-script-state') === 'notRunning'")  # fmt: skip
        up = page.evaluate("window.__up")
        marks = page.evaluate("window.__marks")
        if stroke < WARMUP_STROKES:
            continue
        totals.append(answered - up)
        running = [t for state, t in marks if state == "running" and t >= up]
        finished = [t for state, t in marks if state == "notRunning" and running and t >= running[0]]
        if running and finished:
            round_trips.append(running[0] - up)
            reruns.append(finished[0] - running[0])
    close(page)
    return {
        "mouse_up_to_answer": percentiles(totals, digits=1),
        "mouse_up_to_rerun_start (canvas round trip)": percentiles(round_trips, digits=1),
        "rerun_start_to_end (page rerun, seen from the browser)": percentiles(reruns, digits=1),
    }


def page_times(browser: Browser, url: str, tries: int, png: bytes, label: str) -> dict:
    usable, answers = [], []
    for attempt in range(tries):
        page, seconds = open_predict(browser, url)
        usable.append(seconds)
        answers.append(upload_and_wait(page, f"{label}-{attempt}.png", png))
        close(page)
    return {"goto_to_usable": percentiles(usable, "s", 3), "upload_to_answer": percentiles(answers, "s", 3)}


def cpu_window(browser: Browser, pid: int, job_url: str, seconds: float) -> dict:
    """Server CPU share over one window, and training speed between the two step readings around it."""
    first, first_at = probe_step(browser, job_url)
    started, cpu, browser_cpu = time.perf_counter(), cpu_seconds(pid), browser_cpu_seconds()
    time.sleep(seconds)
    wall = time.perf_counter() - started
    cpu_used, browser_used = cpu_seconds(pid) - cpu, browser_cpu_seconds() - browser_cpu
    last, last_at = probe_step(browser, job_url)
    return {
        "server_cpu_share": round(cpu_used / wall, 3),
        "chromium_cpu_share": round(browser_used / wall, 3),
        "batches_per_s": round((last - first) / (last_at - first_at), 2),
    }


def watch(watchers: list, count: int, job_url: str) -> None:
    """The first `count` tabs watch the live run, the others look away; then let them settle."""
    for index, page in enumerate(watchers):
        target = job_url if index < count else "about:blank"
        if page.url != target:
            page.goto(target)
            if target == job_url:
                page.get_by_text(RUNNING).wait_for()
    time.sleep(SETTLE_S)


def median_window(windows: list[dict]) -> dict:
    """Each figure's median over the rounds."""
    return {key: round(statistics.median(w[key] for w in windows), 3) for key in windows[0]}


def crowd(browser: Browser, url: str, pid: int, png: bytes) -> dict:
    """Twelve sessions open the Predict page at once and each upload three images."""
    rss_before = rss_mb(pid)
    pages = [new_page(browser) for _ in range(CROWD)]
    started = time.perf_counter()
    for page in pages:
        page.goto(f"{url}/predict", wait_until="commit")
    errors, round_trips = 0, {}
    for round_number in range(CROWD_UPLOADS):
        pending = {}
        for index, page in enumerate(pages):
            try:
                wait_usable_predict(page)
                name = f"crowd-{index}-{round_number}.png"
                pending[index] = (name, start_upload(page, name, png))
            except Exception:
                errors += 1
        deadline = time.perf_counter() + 120
        while pending and time.perf_counter() < deadline:
            for index, (name, sent) in list(pending.items()):
                if answer_shown(pages[index], name):
                    round_trips.setdefault(round_number, []).append(time.perf_counter() - sent)
                    del pending[index]
            time.sleep(0.05)
        errors += len(pending)
    exceptions = sum(page.locator('[data-testid="stException"]').count() for page in pages)
    elapsed = time.perf_counter() - started
    rss_after = rss_mb(pid)
    for page in pages:
        close(page)
    return {
        "sessions": CROWD,
        "predictions": CROWD * CROWD_UPLOADS,
        "errors": errors + exceptions,
        "all_done_in_s": round(elapsed, 1),
        # The first round's uploads wait behind twelve pages loading at once; the later ones do not.
        "upload_to_answer": percentiles([t for times in round_trips.values() for t in times], "s", 3),
        "upload_to_answer_by_round": {f"round {n + 1}": percentiles(times, "s", 3) for n, times in round_trips.items()},
        "server_rss_mb_before": round(rss_before),
        "server_rss_mb_after": round(rss_after),
        "server_rss_growth_mb": round(rss_after - rss_before),
    }


def soak(browser: Browser, url: str, pid: int, png: bytes, minutes: float) -> dict:
    """Two tabs watch training while a third predicts every 5 s; the server's RSS every 30 s."""
    page, _ = open_predict(browser, url)
    started = time.perf_counter()
    samples, count, next_sample = [], 0, 0.0
    while (elapsed := time.perf_counter() - started) < 60 * minutes:
        if elapsed >= next_sample:
            samples.append((round(elapsed), round(rss_mb(pid))))
            next_sample += 30
        upload_and_wait(page, f"soak-{count}.png", png)
        count += 1
        time.sleep(5)
    samples.append((round(time.perf_counter() - started), round(rss_mb(pid))))
    close(page)
    first_minute = [rss for t, rss in samples if t <= 60]
    last_minute = [rss for t, rss in samples if t >= samples[-1][0] - 60]
    return {
        "minutes": minutes,
        "predictions": count,
        "rss_mb_over_time": samples,
        "rss_growth_first_to_last_minute_mb": round(statistics.median(last_minute) - statistics.median(first_minute)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=7, help="tries per page-time figure (at least 5)")
    parser.add_argument("--window", type=float, default=20.0, help="seconds per CPU and throughput window")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of 0, 1 and 2 watching tabs")
    parser.add_argument("--soak-minutes", type=float, default=10.0)
    parser.add_argument("--worker-threads", type=int, help="threads for the training process (default: all cores)")
    parser.add_argument("--only-drawing", action="store_true", help="measure only the drawing latency, then stop")
    parser.add_argument("--only-soak", action="store_true", help="only the soak: two watching tabs and predictions")
    args = parser.parse_args()
    chromium = find_chromium()
    if chromium is None:
        sys.exit("This benchmark drives Debian's Chromium: sudo apt install chromium")
    png = digit_png(0)
    report: dict = {"machine": machine_info(), "redraw": {}}
    if not (args.only_drawing or args.only_soak):
        for points in (100, 8_000):
            report["redraw"][f"{points} batch points"] = redraw_cost(points)
    if not args.only_soak:
        report["drawing_server_steps"] = drawing_server_steps()
    work = Path(tempfile.mkdtemp(prefix="explorer-load-"))
    environment = {"EXPLORER_WORKER_THREADS": str(args.worker_threads)} if args.worker_threads else {}
    report["worker_threads"] = args.worker_threads or "all cores"
    with (
        running_app(work / "runs", work / "streamlit.log", environment) as app,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        if args.only_soak:
            trainer = new_page(browser)
            start_long_run(trainer, app.url)
            second = new_page(browser)
            second.goto(trainer.url)
            second.get_by_text(RUNNING).wait_for()
            report["soak_while_2_watch"] = soak(browser, app.url, app.pid, png, args.soak_minutes)
            print(json.dumps(report, indent=2))
            return
        report["drawing_in_chromium_idle_server"] = drawing_latency(browser, f"{app.url}/predict")
        with running_app(work / "floor-runs", work / "floor.log", script="bench/canvas_floor_app.py") as floor:
            # The floor app is ready when its canvas is, which drawing_latency waits for anyway.
            report["drawing_floor_canvas_alone"] = drawing_latency(browser, floor.url, wait_ready=lambda page: None)
        if args.only_drawing:
            print(json.dumps(report, indent=2))
            return
        pages = {"0 watching": page_times(browser, app.url, args.tries, png, "idle")}

        trainer = new_page(browser)
        start_long_run(trainer, app.url)
        job_url = trainer.url
        trainer.goto(f"{app.url}/data")  # training goes on, unwatched
        trainer.get_by_role("heading", name=re.compile("the data")).wait_for()
        # Training speed drifts over a run: the three watcher counts take turns, in alternating order.
        watchers = [new_page(browser) for _ in range(2)]
        rounds: dict[str, list[dict]] = {f"{count} watching": [] for count in (0, 1, 2)}
        for round_number in range(args.rounds):
            for count in (0, 1, 2) if round_number % 2 == 0 else (2, 1, 0):
                watch(watchers, count, job_url)
                rounds[f"{count} watching"].append(cpu_window(browser, app.pid, job_url, args.window))
        windows = {label: median_window(measured) for label, measured in rounds.items()}
        for count in (1, 2):
            watch(watchers, count, job_url)
            pages[f"{count} watching"] = page_times(browser, app.url, args.tries, png, f"watch{count}")
        report["pages"] = pages
        idle_cpu = windows["0 watching"]["server_cpu_share"]
        report["training_and_server_cpu"] = {
            **windows,
            "rounds": args.rounds,
            "server_cpu_share_per_watching_tab": round((windows["2 watching"]["server_cpu_share"] - idle_cpu) / 2, 3),
            "throughput_with_2_watching_vs_none": round(
                windows["2 watching"]["batches_per_s"] / windows["0 watching"]["batches_per_s"], 3
            ),
        }
        report["crowd_while_2_watch"] = crowd(browser, app.url, app.pid, png)
        if args.soak_minutes > 0:
            report["soak_while_2_watch"] = soak(browser, app.url, app.pid, png, args.soak_minutes)
        # What was measured is printed first: the server is stopped on the way out anyway.
        print(json.dumps(report, indent=2), flush=True)
        watchers[0].get_by_role("button", name="Stop").click()
        watchers[0].get_by_text("Stopped early").wait_for()
        browser.close()


if __name__ == "__main__":
    main()
