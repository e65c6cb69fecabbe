"""The HTML report in a real headless browser (Chromium): every figure loads, no console error, no network.

The browser job (``pytest -m browser``, run by ``.ci/run``; docs/release.md) needs Chromium from the
OS packages (Debian: ``apt-get install chromium``). Each page is opened from a copy in which a
small probe script is allowed (the report itself allows none): on ``load`` it records the images
that did not decode and every Content-Security-Policy violation (an attempt to load anything: the
policy allows nothing but the page's own data). Chromium runs without a proxy or DNS to reach, so a
request could not succeed either; its console goes to stderr, where an error would show.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from ndx_causal_emergence.pipeline.html_report import CONTENT_SECURITY_POLICY, html_report

pytestmark = pytest.mark.browser

PROBE = """<script>
const violations = [];
document.addEventListener("securitypolicyviolation", (e) => violations.push(e.blockedURI || e.violatedDirective));
window.addEventListener("load", () => setTimeout(() => {
  const images = Array.from(document.images);
  const result = {images: images.length,
                  broken: images.filter((i) => !i.complete || i.naturalWidth === 0).map((i) => i.alt),
                  violations: violations};
  document.body.setAttribute("data-probe", JSON.stringify(result));
}, 200));
</script>"""
#: Console lines of Chromium's log (``--enable-logging=stderr``).
CONSOLE = re.compile(r"CONSOLE[(:]\d+|Uncaught|Refused to", re.IGNORECASE)


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("the browser job needs Chromium: apt-get install chromium (see docs/release.md)")
    return found


def _run(page: str, tmp_path, name: str) -> tuple[dict, str, np.ndarray]:
    """Open ``page`` (with the probe) in headless Chromium: the probe's findings, the console log, a screenshot."""
    policy = html.escape(CONTENT_SECURITY_POLICY, quote=True)  # as the page's attribute holds it
    assert policy in page
    probed = page.replace(policy, html.escape(CONTENT_SECURITY_POLICY + "; script-src 'unsafe-inline'"), 1)
    probed = probed.replace("</head>", PROBE + "</head>", 1)
    path = tmp_path / f"{name}.html"
    path.write_text(probed, encoding="utf-8")
    common = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--enable-logging=stderr",
              "--v=0", "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
              f"--user-data-dir={tmp_path / (name + '-profile')}", "--virtual-time-budget=10000"]  # fmt: skip
    env = {**os.environ, "HOME": str(tmp_path)}
    dom = subprocess.run([*common, "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120, env=env)
    assert dom.returncode == 0, dom.stderr[-2000:]
    found = re.search(r'data-probe="([^"]*)"', dom.stdout)
    assert found, "the probe did not run: " + dom.stdout[:500]
    probe = json.loads(html.unescape(found.group(1)))
    shot = tmp_path / f"{name}.png"
    done = subprocess.run([*common, "--hide-scrollbars", "--window-size=1200,2000", f"--screenshot={shot}",
                           path.as_uri()], capture_output=True, text=True, timeout=120, env=env)  # fmt: skip
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    with Image.open(shot) as image:
        pixels = np.asarray(image.convert("L"), dtype=float)
    return probe, dom.stderr + done.stderr, pixels


def _check(probe: dict, log: str, pixels: np.ndarray, n_images: int) -> None:
    assert probe["images"] == n_images and probe["broken"] == [] and probe["violations"] == [], probe
    assert not [line for line in log.splitlines() if CONSOLE.search(line)], log[-2000:]
    assert pixels.shape == (2000, 1200) and pixels.std() > 10  # something was drawn, not a blank page


@pytest.mark.parametrize("fixture", ["demo_results", "two_condition_results"])
def test_report_renders_in_chromium(fixture, request, tmp_path):
    page = html_report(request.getfixturevalue(fixture))
    probe, log, pixels = _run(page, tmp_path, fixture)
    _check(probe, log, pixels, page.count("<img "))


def test_the_probe_sees_a_broken_image_and_a_network_request(demo_results, tmp_path):
    """The checks have teeth: a page that asks for a remote image fails them."""
    page = html_report(demo_results).replace("<h1>", '<img src="https://example.org/missing.png" alt="remote"><h1>', 1)
    probe, log, pixels = _run(page, tmp_path, "broken")
    assert probe["broken"] == ["remote"] and probe["violations"], probe
    assert any(CONSOLE.search(line) for line in log.splitlines()), log[-2000:]  # the console reaches the log
    with pytest.raises(AssertionError):
        _check(probe, log, pixels, page.count("<img "))
