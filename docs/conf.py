"""Sphinx configuration of the documentation site (``python -m sphinx -W -b html docs docs/_build/html``).

At build start two kinds of pages are generated (not committed): the NWB schema of ``spec/``
rendered by hdmf-docutils into ``docs/_format_auto_docs`` (settings in ``conf_doc_autogen.py``, as
ndx-template does), and the tutorials converted from their jupytext percent format to Markdown into
``docs/_generated`` (not executed).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
GENERATED = DOCS / "_generated"
SCHEMA = DOCS / "_format_auto_docs"
sys.path.insert(0, str(REPO / "src"))

import ndx_causal_emergence  # noqa: E402

project = "ndx-causal-emergence"
author = "ndx-causal-emergence developers"
copyright = "ndx-causal-emergence developers, BSD-3-Clause"  # noqa: A001
release = version = ndx_causal_emergence.__version__

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "figures/README.md"]
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3
napoleon_google_docstring = False
napoleon_numpy_docstring = True
autodoc_member_order = "bysource"
autodoc_typehints = "none"
html_theme = "alabaster"
html_title = f"ndx-causal-emergence {release}"
numfig = True  # hdmf-docutils refers to the YAML source listings by number
rst_prolog = ".. |lambda| replace:: \\|λ\\|\n"  # the schema's docs write |lambda| for a modulus


def _schema_pages() -> None:
    """Render the extension's YAML (``spec/``) into ``_format_auto_docs`` with hdmf-docutils.

    The pages refer to the core types the extension builds on (``sec-TimeSeries`` ...); each gets a
    short section in ``core_types.inc``, so that every reference resolves without a network.
    """
    shutil.rmtree(SCHEMA, ignore_errors=True)
    SCHEMA.mkdir()  # an existing folder: hdmf-docutils then asks git for no revision (a copy may have no .git)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(DOCS), os.environ.get("PYTHONPATH", "")])}
    subprocess.run(
        [sys.executable, "-c", "from hdmf_docutils.generate_format_docs import main; main()"],
        cwd=DOCS,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    pages = "\n".join(p.read_text() for p in sorted(SCHEMA.glob("*.inc")))
    defined = set(re.findall(r"^\.\. _sec-([\w-]+):", pages, re.M))
    core = sorted(set(re.findall(r":ref:`\w+ <sec-(\w+)>`", pages)) - defined)
    sections = [
        f".. _sec-{name}:\n\n{name}\n{'-' * len(name)}\n\nA type of the NWB core or HDMF common schema.\n"
        for name in core
    ]
    (SCHEMA / "core_types.inc").write_text("\n".join(sections))


def _tutorial_pages() -> None:
    """Convert each tutorial (jupytext percent format) to a Markdown page, without running it."""
    import jupytext

    target = GENERATED / "tutorials"
    target.mkdir(parents=True, exist_ok=True)
    for script in sorted((REPO / "tutorials").glob("*.py")):
        notebook = jupytext.read(script)
        notebook.metadata = {}
        jupytext.write(notebook, target / f"{script.stem}.md", fmt="md")


def _generate(_app: object) -> None:
    shutil.rmtree(GENERATED, ignore_errors=True)
    GENERATED.mkdir()
    _schema_pages()
    _tutorial_pages()


def setup(app: object) -> None:
    """Generate the schema and tutorial pages when the build starts."""
    app.connect("builder-inited", _generate)
