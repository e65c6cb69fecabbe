"""Regenerate the README's screenshot of the HTML report (docs/figures/report_screenshot.png).

    python docs/make_report_screenshot.py                  # runs the demo (about 2 min on 2 cores), then shoots
    python docs/make_report_screenshot.py RESULTS.nwb      # the report of an existing result file

The page is rendered by headless Chromium from the OS packages (Debian: ``apt-get install
chromium``), as the browser tests do, at 1100 x 1700 CSS pixels; the top of the page is kept.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

from ndx_causal_emergence.pipeline.html_report import write_html

OUT = Path(__file__).resolve().parent / "figures" / "report_screenshot.png"
WINDOW = (1100, 1700)
#: Width of the stored image (pixels): readable in the README, small in the repository.
STORED_WIDTH = 880


def main(argv: list[str]) -> None:
    """Write the screenshot of the report of ``argv[0]`` (or of a fresh demo run) to :data:`OUT`."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("needs Chromium: apt-get install chromium")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        if argv:
            result = Path(argv[0]).resolve()
        else:
            from ndx_causal_emergence.demo import run_demo

            result, _ = run_demo(folder / "demo")
        here = Path.cwd()
        os.chdir(result.parent)  # the page names the file as given: its name, not a scratch path
        try:
            page = write_html(result.name, folder / "report.html")
        finally:
            os.chdir(here)
        shot = folder / "shot.png"
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--user-data-dir={folder / 'profile'}",
             f"--screenshot={shot}", page.as_uri()],
            check=True, capture_output=True, env={"HOME": scratch, "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        with Image.open(shot) as image:
            height = round(image.height * STORED_WIDTH / image.width)
            small = image.convert("RGB").resize((STORED_WIDTH, height), Image.Resampling.LANCZOS)
            small.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(OUT, optimize=True)
    sys.stdout.write(f"wrote {OUT}\n")


if __name__ == "__main__":
    main(sys.argv[1:])
