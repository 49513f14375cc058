"""The real app under load, in Chromium: a visitor while others watch training, redraw cost, a crowd, drawing.

    .venv/bin/python -m bench.load_under_training [--tries 7] [--window 30] [--soak-minutes 10]

Prints JSON. Everything runs against `streamlit run app.py` on loopback with a fresh runs folder,
driven by Debian's Chromium as a person would (bench/app_server.py, shared with the e2e tests).

- drawing: on an idle server, mouse up after a stroke -> the answer on the Predict page changes,
  split into the canvas round trip (mouse up -> the rerun starts) and the rerun (-> it ends); and
  the server's share, step by step, timed in this process with the same calls the page makes;
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
import io
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from playwright.sync_api import Browser, Page, sync_playwright

from bench.machine import machine_info
from core.datasets import load_dataset
from tests.app_server import CHROMIUM_FLAGS, find_chromium, running_app
from tests.e2e.browser_steps import wait_for_rerun

RUNNING = re.compile(r"Running: epoch (\d+) of \d+, batch (\d+) of (\d+)")
TIMEOUT_MS = 180_000
CROWD = 12
CROWD_UPLOADS = 3
DRAWN_STROKES = 12
WARMUP_STROKES = 2


# --- measuring the server from outside --------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of one process (not its children), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def browser_cpu_seconds() -> float:
    """CPU time of every Chromium process: on this machine the watching tabs' own drawing competes too."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if b"chromium" in (entry / "cmdline").read_bytes():
                total += cpu_seconds(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    return total


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def summary(values: list[float], digits: int = 3) -> dict:
    """Median and 95th percentile (nearest rank) of a list of times."""
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(np.ceil(0.95 * len(ordered))) - 1)]
    return {"n": len(values), "median": round(statistics.median(values), digits), "p95": round(p95, digits)}


# --- a person's steps ------------------------------------------------------------------------------


def new_page(browser: Browser) -> Page:
    page = browser.new_context(viewport={"width": 1300, "height": 900}).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return page


def close(page: Page) -> None:
    page.context.close()


def digit_png(index: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(load_dataset("mnist").x_test[index]).resize((112, 112)).save(buffer, "PNG")
    return buffer.getvalue()


def wait_usable_predict(page: Page) -> None:
    page.get_by_text("Predicting with").first.wait_for()
    page.get_by_role("tab", name="Upload an image").wait_for()


def open_predict(browser: Browser, url: str) -> tuple[Page, float]:
    """A new session's Predict page, and the seconds from goto until a person can use it."""
    page = new_page(browser)
    started = time.perf_counter()
    page.goto(f"{url}/predict")
    wait_usable_predict(page)
    return page, time.perf_counter() - started


def start_upload(page: Page, name: str, png: bytes) -> float:
    page.get_by_role("tab", name="Upload an image").click()
    started = time.perf_counter()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": name, "mimeType": "image/png", "buffer": png}]
    )
    return started


def answer_shown(page: Page, name: str) -> bool:
    return page.get_by_text(f"Prediction for the uploaded file {name}").is_visible()


def upload_and_wait(page: Page, name: str, png: bytes) -> float:
    started = start_upload(page, name, png)
    page.get_by_text(f"Prediction for the uploaded file {name}").wait_for()
    return time.perf_counter() - started


def start_long_run(page: Page, url: str) -> None:
    """Train the default recipe on Fashion-MNIST for 200 epochs: far longer than the benchmark lasts."""
    page.goto(f"{url}/train")
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(has_text="Dataset").click()
    page.get_by_role("option", name="Fashion-MNIST").first.click()
    page.get_by_role("heading", name="Train a CNN on Fashion-MNIST").wait_for()
    wait_for_rerun(page, TIMEOUT_MS)
    epochs = page.get_by_label("Epochs", exact=True)
    epochs.fill("200")
    epochs.press("Enter")
    wait_for_rerun(page, TIMEOUT_MS)
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text(RUNNING).wait_for()


def training_step(page: Page) -> int:
    """The live panel's step count, as the page shows it."""
    text = page.get_by_text(RUNNING).inner_text()
    epoch, batch, per_epoch = (int(n) for n in RUNNING.search(text).groups())
    return (epoch - 1) * per_epoch + batch


def probe_step(browser: Browser, job_url: str) -> int:
    page = new_page(browser)
    page.goto(job_url)
    page.get_by_text(RUNNING).wait_for()
    step = training_step(page)
    close(page)
    return step


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


def drawing_latency(browser: Browser, url: str) -> dict:
    """Mouse up after a stroke -> the answer's numbers change, on an idle server."""
    page = new_page(browser)
    page.goto(f"{url}/predict")
    wait_usable_predict(page)
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
        "mouse_up_to_answer_ms": summary(totals, 1),
        "mouse_up_to_rerun_start_ms (canvas round trip)": summary(round_trips, 1),
        "rerun_start_to_end_ms (page rerun, seen from the browser)": summary(reruns, 1),
    }


def drawing_server_steps(repeats: int = 30) -> dict:
    """The server's work for one drawing, step by step, with the calls the Predict page makes."""
    import plotly.io

    from core.figures.prediction import probability_figure
    from core.inference import Predictor
    from core.insight.saliency import grad_cam, overlay
    from core.preprocessing import preprocess_image
    from core.pretrained import load_pretrained

    digit = load_dataset("mnist").x_test[0]
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[..., :3] = np.array(Image.fromarray(digit).resize((280, 280)))[..., None]
    predictor = Predictor(load_pretrained("mnist"))
    names = [str(n) for n in range(10)]

    times: dict[str, list[float]] = {}
    clock = [time.perf_counter()]

    def lap(name: str) -> None:
        now = time.perf_counter()
        times.setdefault(name, []).append(1000 * (now - clock[0]))
        clock[0] = now

    for repeat in range(repeats + 1):  # the first compiles the predictor and the gradient function
        clock[0] = time.perf_counter()
        result = preprocess_image(rgba, "mnist")
        lap("preprocess")
        probabilities = predictor.probabilities(result.model_input)
        lap("predict")
        plotly.io.to_json(probability_figure(probabilities, names))
        lap("probability figure + JSON")
        heatmap = grad_cam(predictor.model, result.model_input[None], np.array([probabilities.argmax()]), True)
        lap("heatmap (HiResCAM)")
        overlay(result.model_input, heatmap[0])
        lap("heatmap overlay")
        [_png(image) for _, image in result.steps]
        lap("step images as PNG")
        if repeat == 0:
            times.clear()
    return {name: summary(values, 2) for name, values in times.items()}


def _png(image: np.ndarray) -> int:
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buffer, "PNG")
    return buffer.tell()


def page_times(browser: Browser, url: str, tries: int, png: bytes, label: str) -> dict:
    usable, answers = [], []
    for attempt in range(tries):
        page, seconds = open_predict(browser, url)
        usable.append(seconds)
        answers.append(upload_and_wait(page, f"{label}-{attempt}.png", png))
        close(page)
    return {"goto_to_usable_s": summary(usable), "upload_to_answer_s": summary(answers)}


def cpu_window(browser: Browser, pid: int, job_url: str, seconds: float) -> dict:
    """Server CPU share and training speed over one window (the probes that read the step are outside it)."""
    first = probe_step(browser, job_url)
    started, cpu, browser_cpu = time.perf_counter(), cpu_seconds(pid), browser_cpu_seconds()
    time.sleep(seconds)
    wall = time.perf_counter() - started
    cpu_used, browser_used = cpu_seconds(pid) - cpu, browser_cpu_seconds() - browser_cpu
    last = probe_step(browser, job_url)
    return {
        "server_cpu_share": round(cpu_used / wall, 3),
        "chromium_cpu_share": round(browser_used / wall, 3),
        "batches_per_s": round((last - first) / wall, 2),
    }


def redraw_cost(points: int, repeats: int = 30) -> dict:
    """The live panel's server work per redraw with `points` batches recorded: now, and drawn anew as before."""
    import plotly.io
    import plotly.tools

    from core.figures.training import (
        LiveCurvesFigure,
        curves_from_history,
        curves_from_snapshot,
        training_curves_figure,
    )
    from core.training.progress import EpochRecord, ProgressRecord

    progress = ProgressRecord()
    rng = np.random.default_rng(0)
    for step in range(1, points + 1):
        progress.add_batch(step, float(rng.uniform(0.2, 2.0)), float(rng.uniform(0.3, 1.0)))
    progress.add_epoch(EpochRecord(0, points, 0.5, 0.8, 0.55, 0.8, 1e-3, 10.0))
    live = LiveCurvesFigure()

    def as_streamlit_sends(figure) -> str:
        return plotly.io.to_json(plotly.tools.return_figure_from_figure_or_data(figure, True), validate=False)

    def now() -> int:
        # What the panel does for a redraw with one new batch: a bounded view, swapped arrays, JSON.
        progress.add_batch(points + 1, 0.5, 0.8)
        curves = curves_from_snapshot("run", progress.snapshot(), progress.curves())
        return len(as_streamlit_sends(live.update(curves)))

    history = {"batches": {"step": list(range(points)), "loss": rng.uniform(0.2, 2, points).tolist(),
                           "accuracy": rng.uniform(0.3, 1, points).tolist()}, "epochs": []}  # fmt: skip

    def before() -> int:
        # The first wave's way: every point, smoothed and laid out in a new figure each second.
        return len(as_streamlit_sends(training_curves_figure([curves_from_history("run", history)])))

    results = {}
    for name, call in (("now", now), ("every point, new figure (before)", before)):
        call()
        times, size = [], 0
        for _ in range(repeats):
            started = time.perf_counter()
            size = call()
            times.append(1000 * (time.perf_counter() - started))
        results[name] = {"ms": summary(times, 2), "json_bytes": size}
    return results


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
        "upload_to_answer_s": summary([t for times in round_trips.values() for t in times]),
        "upload_to_answer_s_by_round": {f"round {n + 1}": summary(times) for n, times in round_trips.items()},
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
    parser.add_argument("--window", type=float, default=30.0, help="seconds per CPU and throughput window")
    parser.add_argument("--soak-minutes", type=float, default=10.0)
    parser.add_argument("--worker-threads", type=int, help="threads for the training process (default: all cores)")
    parser.add_argument("--only-drawing", action="store_true", help="measure only the drawing latency, then stop")
    parser.add_argument("--only-soak", action="store_true", help="only the soak: two watching tabs and predictions")
    args = parser.parse_args()
    chromium = find_chromium()
    if chromium is None:
        sys.exit("This benchmark drives Debian's Chromium: sudo apt install chromium")
    png = digit_png(0)
    report: dict = {"machine": machine_info(), "redraw_ms": {}}
    if not (args.only_drawing or args.only_soak):
        for points in (100, 8_000):
            report["redraw_ms"][f"{points} batch points"] = redraw_cost(points)
    if not args.only_soak:
        report["drawing_server_steps_ms"] = drawing_server_steps()
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
        report["drawing_in_chromium_idle_server"] = drawing_latency(browser, app.url)
        if args.only_drawing:
            print(json.dumps(report, indent=2))
            return
        pages = {"0 watching": page_times(browser, app.url, args.tries, png, "idle")}

        trainer = new_page(browser)
        start_long_run(trainer, app.url)
        job_url = trainer.url
        trainer.goto(f"{app.url}/data")  # training goes on, unwatched
        trainer.get_by_role("heading", name=re.compile("the data")).wait_for()
        windows = {"0 watching": cpu_window(browser, app.pid, job_url, args.window)}
        watchers = []
        for count in (1, 2):
            watcher = new_page(browser)
            watcher.goto(job_url)
            watcher.get_by_text(RUNNING).wait_for()
            watchers.append(watcher)
            windows[f"{count} watching"] = cpu_window(browser, app.pid, job_url, args.window)
            pages[f"{count} watching"] = page_times(browser, app.url, args.tries, png, f"watch{count}")
        report["pages"] = pages
        idle_cpu = windows["0 watching"]["server_cpu_share"]
        report["training_and_server_cpu"] = {
            **windows,
            "server_cpu_share_per_watching_tab": round((windows["2 watching"]["server_cpu_share"] - idle_cpu) / 2, 3),
            "throughput_with_2_watching_vs_none": round(
                windows["2 watching"]["batches_per_s"] / windows["0 watching"]["batches_per_s"], 3
            ),
        }
        report["crowd_while_2_watch"] = crowd(browser, app.url, app.pid, png)
        if args.soak_minutes > 0:
            report["soak_while_2_watch"] = soak(browser, app.url, app.pid, png, args.soak_minutes)
        watchers[0].get_by_role("button", name="Stop").click()
        watchers[0].get_by_text("Stopped early").wait_for()
        browser.close()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
