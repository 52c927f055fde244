"""Every widget of the notebooks moved in a real JupyterLab, driven by headless Chromium (`make browser-check`).

    .venv/bin/python tests/browser/check_widgets.py [--out DIR] [--notebooks NAME ...] [--screenshots]

What it does, step by step:

1. finds the notebooks with a widget: any ``notebooks/NN_*.ipynb`` whose code uses ipywidgets, the explorers of
   `sslprop.lab.widgets` or ``interact`` (so a new notebook with a widget is checked without changing this file);
2. copies them into a temporary folder with their ``parameters`` cell set to the smoke budget, the repository's
   ``data/`` and ``runs/`` caches and a temporary ``figures_dir`` (``figures/`` is never written);
3. starts JupyterLab on 127.0.0.1 (a free port, a random token, its own settings and workspaces), opens each
   notebook in headless Chromium (selenium with Debian's ``chromium`` and ``chromium-driver``), runs all cells and
   waits until every cell has run and the kernel is idle; a cell that fails, a figure shown as the text
   ``<Figure size ...>``, or a cell that saves a figure (``save_figure(``) but shows none, is a failure;
4. for each live widget, for each of its controls (a slider moved with the arrow keys, a dropdown or select set to
   another option, a toggle button clicked), reads the widget's output area before and after and checks that it
   changed and shows a picture (an <img> or <canvas> of nonzero size), not a figure's text;
5. prints a report (per notebook, per widget and control: moved, changed, picture, redraw seconds), writes it to
   ``--out``/report.txt (with screenshots of each widget after each move with ``--screenshots``), and exits 1 on
   any failure (2 when the browser or its driver is missing).

It is not part of `make test` (pytest does not collect it: tests/browser/conftest.py).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
DRIVERS = ("chromedriver", "/usr/lib/chromium/chromedriver")


@dataclass
class Move:
    """One control of one widget, moved once."""

    notebook: str
    widget: int
    control: str
    moved: str = ""
    changed: bool = False
    picture: str = ""
    seconds: float | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem and self.changed and bool(self.picture)


@dataclass
class Result:
    notebook: str
    run_seconds: float = 0.0
    widgets: int = 0
    moves: list[Move] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.widgets > 0 and all(m.ok for m in self.moves)


# --------------------------------------------------------------------------------------- notebooks


def widget_notebooks(folder: Path) -> list[Path]:
    """The numbered notebooks of `folder` whose code cells use a widget (see WIDGET_CODE)."""
    found = []
    for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
        uses_lab_widgets = re.search(r"from sslprop\.lab import[^\n]*\bwidgets\b", code) and re.search(r"\bwidgets\.\w+\(", code)
        if re.search(r"\bipywidgets\b|\binteract(?:ive)?\s*\(|sslprop\.lab\.widgets\.", code) or uses_lab_widgets:
            found.append(path)
    return found


def prepared_copy(path: Path, dest: Path, params: dict[str, str]) -> Path:
    """`path` copied to `dest` with the named assignments of its parameters cell replaced (`name = value` lines) and
    every output cleared."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    cell = next((c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if cell is None:
        raise SystemExit(f"browser-check: {path.name} has no cell tagged 'parameters'")
    lines = "".join(cell["source"]).splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"(\w+)\s*=", line)
        if m and m.group(1) in params:
            lines[i] = f"{m.group(1)} = {params[m.group(1)]}"
    cell["source"] = [line + "\n" for line in lines[:-1]] + lines[-1:]
    for c in nb["cells"]:
        if c["cell_type"] == "code":
            c["outputs"], c["execution_count"] = [], None
    out = dest / path.name
    out.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


# --------------------------------------------------------------------------------------- JupyterLab and the browser


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_lab(root: Path, port: int, token: str, log: Path) -> subprocess.Popen:
    """JupyterLab serving `root` on 127.0.0.1:`port` with `token`; its own settings (no news, no update check) and
    workspaces under `root`, the app exposed as window.jupyterapp so that the page can be driven by its commands."""
    settings = root / ".lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--port-retries=0",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--ServerApp.open_browser=False",
           f"--LabApp.user_settings_dir={root / '.lab-settings'}", f"--LabApp.workspaces_dir={root / '.lab-workspaces'}",
           "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None", "--LabApp.extension_manager=readonly"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # a container's root user; the server still listens on 127.0.0.1 only, behind a token
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # the kernel picks its inline backend itself
    env["JUPYTER_RUNTIME_DIR"] = str(root / ".jupyter-runtime")
    proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=root, env=env)
    url = f"http://127.0.0.1:{port}/api/status?token={token}"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"browser-check: JupyterLab exited at start (log: {log})")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise SystemExit(f"browser-check: JupyterLab did not answer on 127.0.0.1:{port} within 120 s (log: {log})")


def browser_paths() -> tuple[str, str]:
    """(chromium, chromedriver), or exit 2 with one line saying what is missing."""
    browser = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    driver = next((shutil.which(d) or (d if os.access(d, os.X_OK) else None) for d in DRIVERS
                   if shutil.which(d) or os.access(d, os.X_OK)), None)
    if browser is None or driver is None:
        missing = " and ".join(n for n, p in (("chromium", browser), ("chromedriver", driver)) if p is None)
        print(f"browser-check: {missing} not found (Debian: sudo apt-get install chromium chromium-driver)", file=sys.stderr)
        raise SystemExit(2)
    return browser, driver


def open_browser(browser: str, driver: str):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        print("browser-check: selenium is not installed (make browser-check installs it: pip install -e '.[browser]')",
              file=sys.stderr)
        raise SystemExit(2) from None
    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1500,1100",
              "--force-device-scale-factor=1"):
        opts.add_argument(a)
    return webdriver.Chrome(service=Service(executable_path=driver), options=opts)


# JavaScript run in the page (JupyterLab 4, app exposed as window.jupyterapp)
JS_STATE = """
const app = window.jupyterapp;
if (!app || !app.shell) return {ready: false};
const w = app.shell.currentWidget;
if (!w || !w.content || !w.sessionContext) return {ready: false};
const ctx = w.sessionContext, kernel = ctx.session && ctx.session.kernel;
const cells = [];
for (const c of w.content.widgets) {
  if (c.model.type !== 'code') continue;
  const outs = c.model.outputs.toJSON();
  cells.push({count: c.model.executionCount, error: outs.some(o => o.output_type === 'error'),
              figureText: outs.some(o => o.data && String(o.data['text/plain'] || '').includes('<Figure size')
                                       && !o.data['image/png']),
              draws: c.model.sharedModel.getSource().includes('save_figure('),
              picture: outs.some(o => o.data && (o.data['image/png'] || o.data['application/vnd.jupyter.widget-view+json'])),
              text: c.model.sharedModel.getSource().slice(0, 60)});
}
return {ready: w.context.isReady && !!kernel, path: w.context.path, status: kernel ? kernel.status : 'none',
        busy: ctx.kernelDisplayStatus, cells: cells};
"""


def wait_for(driver, condition, timeout: float, what: str, poll: float = 0.25):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s")


def run_notebook(driver, base: str, token: str, name: str, timeout: float) -> tuple[float, list[str]]:
    """Open notebooks/`name` in the page, run all cells, wait until each has run and the kernel is idle.
    Returns (seconds, problems)."""
    driver.get(f"{base}/lab/tree/notebooks/{name}?token={token}&reset")
    wait_for(driver, lambda: (driver.execute_script(JS_STATE) or {}).get("ready")
             and driver.execute_script(JS_STATE).get("path", "").endswith(name)
             and driver.execute_script(JS_STATE)["status"] == "idle", 180, f"{name}: kernel ready")
    start = time.time()
    driver.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells');")

    def done():
        s = driver.execute_script(JS_STATE)
        if any(c["error"] for c in s["cells"]):
            return s
        return s if s["status"] == "idle" and all(c["count"] is not None for c in s["cells"]) else None

    state = wait_for(driver, done, timeout, f"{name}: all cells run", poll=1.0)
    seconds = time.time() - start
    problems = [f"cell '{c['text'].splitlines()[0] if c['text'] else ''}...' failed" for c in state["cells"] if c["error"]]
    problems += [f"cell '{c['text'].splitlines()[0]}...' shows a figure as text '<Figure size ...>'" for c in state["cells"]
                 if c["figureText"]]
    problems += [f"cell '{c['text'].splitlines()[0]}...' saves a figure but shows none" for c in state["cells"]
                 if c["draws"] and not c["picture"] and not c["error"]]
    time.sleep(1.0)  # the last widget views render
    return seconds, problems


JS_OUTPUT = """
const root = arguments[0];
const area = root.querySelector('.widget-output') || root;
const pics = [...area.querySelectorAll('img, canvas')].map(e => {
  const r = e.getBoundingClientRect();
  const w = e.tagName === 'IMG' ? e.naturalWidth : e.width, h = e.tagName === 'IMG' ? e.naturalHeight : e.height;
  return {tag: e.tagName.toLowerCase(), w: w, h: h, shownW: Math.round(r.width), shownH: Math.round(r.height),
          src: e.tagName === 'IMG' ? e.src : e.toDataURL()};
});
return {html: area.innerHTML, text: area.innerText, pics: pics};
"""


def output_state(driver, root) -> dict:
    return driver.execute_script(JS_OUTPUT, root)


def fingerprint(state: dict) -> str:
    return json.dumps([p["src"][-2000:] + str(len(p["src"])) for p in state["pics"]]) + state["text"]


def picture(state: dict) -> str:
    """'img 640x320' for the first picture of nonzero natural and shown size, or '' (none, or a figure as text)."""
    if "<Figure size" in state["text"]:
        return ""
    for p in state["pics"]:
        if p["w"] > 0 and p["h"] > 0 and p["shownW"] > 0 and p["shownH"] > 0:
            return f"{p['tag']} {p['w']}x{p['h']}"
    return ""


def controls_of(root) -> list[tuple[str, object]]:
    """(kind, element) for every control of a widget view: sliders, dropdowns, selects, toggle buttons, checkboxes."""
    from selenium.webdriver.common.by import By

    found = []
    for el in root.find_elements(By.CSS_SELECTOR, ".widget-slider, .widget-hslider, .widget-vslider"):
        found.append(("slider", el))
    for el in root.find_elements(By.CSS_SELECTOR, ".widget-dropdown select, .widget-select select, select"):
        if not any(el == e for _, e in found):
            found.append(("dropdown", el))
    for el in root.find_elements(By.CSS_SELECTOR, ".widget-toggle-buttons, .widget-toggle-button"):
        found.append(("toggle", el))
    for el in root.find_elements(By.CSS_SELECTOR, ".widget-checkbox input[type=checkbox]"):
        found.append(("checkbox", el))
    seen, unique = set(), []
    for kind, el in found:
        if el.id not in seen:
            seen.add(el.id)
            unique.append((kind, el))
    return unique


def control_name(kind: str, el) -> str:
    from selenium.webdriver.common.by import By

    labels = el.find_elements(By.XPATH, "./ancestor-or-self::*[contains(@class,'widget-inline-hbox')][1]//label")
    text = next((lab.text.strip() for lab in labels if lab.text.strip()), "")
    return f"{kind} '{text}'" if text else kind


def move(driver, kind: str, el) -> str:
    """Move one control once; returns 'before -> after' as the control shows it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    if kind == "slider":
        handle = el.find_element(By.CSS_SELECTOR, ".noUi-handle, [role=slider]")
        readout = el.find_elements(By.CSS_SELECTOR, ".widget-readout")

        def value() -> str:  # as the slider shows it (the readout), else its aria value
            return (readout[0].text.strip() if readout and readout[0].text.strip() else None) or handle.get_attribute("aria-valuenow")

        now, top = handle.get_attribute("aria-valuenow"), handle.get_attribute("aria-valuemax")
        key = Keys.ARROW_LEFT if top is not None and now is not None and float(now) >= float(top) else Keys.ARROW_RIGHT
        before = value()
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].focus();", handle)
        handle.send_keys(key)
        time.sleep(0.1)
        return f"{before} -> {value()} ({'left' if key == Keys.ARROW_LEFT else 'right'} arrow)"
    if kind == "dropdown":
        sel = Select(el)
        options = [o.text for o in sel.options]
        before = sel.first_selected_option.text
        target = next(i for i, t in enumerate(options) if t != before)
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", el)
        sel.select_by_index(target)
        return f"{before!r} -> {options[target]!r}"
    if kind == "toggle":
        buttons = el.find_elements(By.CSS_SELECTOR, "button") or [el]
        inactive = next((b for b in buttons if "mod-active" not in (b.get_attribute("class") or "")), buttons[0])
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", inactive)
        inactive.click()
        return f"clicked {inactive.text.strip()!r}"
    before = el.is_selected()
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", el)
    el.click()
    return f"{before} -> {el.is_selected()}"


def check_widgets(driver, name: str, shots: Path | None, redraw_timeout: float) -> tuple[int, list[Move], list[str]]:
    from selenium.webdriver.common.by import By

    roots = driver.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output > .jupyter-widgets")  # each displayed widget view
    problems, moves = [], []
    if not roots:
        problems.append("no live widget view rendered (the widget manager did not load, or no cell displays a widget)")
    for w, root in enumerate(roots, 1):
        controls = controls_of(root)
        if not controls:
            problems.append(f"widget {w}: no control found")
        for kind, el in controls:
            m = Move(name, w, control_name(kind, el))
            before = output_state(driver, root)
            start = time.time()
            try:
                m.moved = move(driver, kind, el)
            except Exception as e:  # a control that cannot be moved is a failure, reported, not a crash
                m.problem = f"could not move: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                moves.append(m)
                continue
            after = before
            deadline = start + redraw_timeout
            while time.time() < deadline:
                after = output_state(driver, root)
                if fingerprint(after) != fingerprint(before) and picture(after):
                    break
                time.sleep(0.05)
            m.changed = fingerprint(after) != fingerprint(before)
            m.seconds = round(time.time() - start, 2) if m.changed else None
            m.picture = picture(after)
            if not m.changed:
                m.problem = f"output unchanged after {redraw_timeout:.0f} s"
            elif not m.picture:
                m.problem = "no picture in the output" + (" (a figure shown as text)" if "<Figure size" in after["text"] else "")
            if shots is not None:
                root.screenshot(str(shots / f"{Path(name).stem}-w{w}-{len(moves) + 1}.png"))
            moves.append(m)
    return len(roots), moves, problems


def close(driver, base: str, token: str) -> None:
    """Save the open notebook (so that leaving the page asks nothing) and shut every kernel down (2 cores)."""
    try:
        driver.execute_async_script("const done = arguments[arguments.length - 1];"
                                    "window.jupyterapp.commands.execute('docmanager:save').then(() => done(true), () => done(false));")
    except Exception:
        pass
    with urllib.request.urlopen(f"{base}/api/kernels?token={token}", timeout=10) as r:
        kernels = json.loads(r.read())
    for k in kernels:
        req = urllib.request.Request(f"{base}/api/kernels/{k['id']}?token={token}", method="DELETE")
        urllib.request.urlopen(req, timeout=30).close()


# --------------------------------------------------------------------------------------- report and main


def report(results: list[Result]) -> str:
    lines = []
    for r in results:
        lines.append(f"{r.notebook}: {'ok' if r.ok else 'FAILED'}; all cells run in {r.run_seconds:.0f} s; {r.widgets} widget(s)")
        lines += [f"  problem: {p}" for p in r.problems]
        for m in r.moves:
            secs = f"{m.seconds:.2f} s" if m.seconds is not None else "-"
            lines.append(f"  widget {m.widget}, {m.control}: moved {m.moved or '-'}; changed {'yes' if m.changed else 'NO'}; "
                         f"picture {m.picture or 'NO'}; redraw {secs}" + (f"; FAILED: {m.problem}" if m.problem else ""))
    bad = [r for r in results if not r.ok]
    moves = sum(len(r.moves) for r in results)
    lines.append(f"browser-check: {len(results)} notebook(s), {sum(r.widgets for r in results)} widget(s), {moves} move(s); "
                 + ("all changed and show a picture" if not bad else f"{len(bad)} notebook(s) FAILED: {', '.join(r.notebook for r in bad)}"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--notebooks", nargs="*", help="notebook names to check (default: every notebook with a widget)")
    p.add_argument("--out", type=Path, default=ROOT / "executed" / "browser-check", help="report (and screenshots) folder")
    p.add_argument("--screenshots", action="store_true", help="a screenshot of each widget after each move into --out")
    p.add_argument("--budget", default="smoke", help="the notebooks' budget parameter (default smoke)")
    p.add_argument("--timeout", type=float, default=1200, help="seconds for one notebook's cells to run")
    p.add_argument("--redraw-timeout", type=float, default=30, help="seconds for a widget's output to change")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (notebooks, JupyterLab's log)")
    args = p.parse_args(argv)

    browser, chromedriver = browser_paths()
    notebooks = widget_notebooks(ROOT / "notebooks")
    if args.notebooks:
        notebooks = [n for n in notebooks if n.name in args.notebooks or n.stem in args.notebooks]
    if not notebooks:
        print("browser-check: no notebook with a widget", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    shots = args.out if args.screenshots else None
    tmp = Path(tempfile.mkdtemp(prefix="browser-check-"))
    (tmp / "notebooks").mkdir()
    params = {"budget": json.dumps(args.budget), "data_root": json.dumps(str(ROOT / "data")),
              "runs_root": json.dumps(str(ROOT / "runs")), "figures_dir": json.dumps(str(tmp / "figures"))}
    for nb in notebooks:
        prepared_copy(nb, tmp / "notebooks", params)
    port, token = free_port(), secrets.token_hex(16)
    lab = start_lab(tmp, port, token, tmp / "jupyterlab.log")
    driver = None
    results = []
    try:
        driver = open_browser(browser, chromedriver)
        base = f"http://127.0.0.1:{port}"
        for nb in notebooks:
            r = Result(nb.name)
            print(f"== {nb.name}", flush=True)
            try:
                r.run_seconds, r.problems = run_notebook(driver, base, token, nb.name, args.timeout)
                r.widgets, r.moves, more = check_widgets(driver, nb.name, shots, args.redraw_timeout)
                r.problems += more
            except TimeoutError as e:
                r.problems.append(str(e))
            if shots is not None:
                driver.save_screenshot(str(args.out / f"{nb.stem}-page.png"))
            close(driver, base, token)
            results.append(r)
    finally:
        if driver is not None:
            driver.quit()
        lab.terminate()
        try:
            lab.wait(30)
        except subprocess.TimeoutExpired:
            lab.kill()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    text = report(results)
    (args.out / "report.txt").write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
