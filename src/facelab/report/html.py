"""A tiny self-contained HTML report writer shared by ``explore`` and ``cluster``.

Figures are written as PNG files beside the report *and* embedded as base64 ``<img>`` so the
single ``report.html`` can be mailed or opened anywhere (no external assets, no JavaScript).

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from facelab.report.plots import bar_counts
    >>> rep = HtmlReport("My data", out=Path(tempfile.mkdtemp()))
    >>> rep.section("Counts", "How many images per split.")
    >>> rep.figure(bar_counts({"train": 8, "val": 2}, "Images per split"), "counts").name
    'counts.png'
    >>> rep.write().name
    'report.html'
"""
from __future__ import annotations

import base64
import html
from pathlib import Path

import pandas as pd

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{border-bottom:2px solid #333}h2{margin-top:2em;border-bottom:1px solid #ccc}
.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.4em .8em;margin:.6em 0}
.skip{background:#f3f3f3;border-left:4px solid #999;padding:.4em .8em;margin:.6em 0;color:#555}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:.9em;color:#555}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0}
td,th{border:1px solid #ddd;padding:.2em .5em;text-align:right}th{background:#f5f5f5}
td:first-child,th:first-child{text-align:left}
ul.toc{columns:2}
"""


class HtmlReport:
    """Collects sections, text, tables and figures; ``write()`` produces ``report.html``.

    Args:
        title: the page title.
        out: the folder for ``report.html`` and the PNG figures (created).
        dpi: resolution of the saved figures (kept modest for speed and size).
    """

    def __init__(self, title: str, *, out: Path, dpi: int = 80):
        self.title = title
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.dpi = dpi
        self.parts: list[str] = []
        self.sections: list[tuple[str, str]] = []
        self.figures: list[Path] = []

    def section(self, title: str, explanation: str = "") -> None:
        anchor = f"s{len(self.sections)}"
        self.sections.append((anchor, title))
        self.parts.append(f'<h2 id="{anchor}">{html.escape(title)}</h2>')
        if explanation:
            self.text(explanation)

    def text(self, text: str) -> None:
        self.parts.append(f"<p>{html.escape(text)}</p>")

    def note(self, text: str) -> None:
        """A highlighted remark: samples used, methods chosen, caveats."""
        self.parts.append(f'<div class="note">{html.escape(text)}</div>')

    def skipped(self, text: str) -> None:
        """Say why a section is not shown (never skip silently)."""
        self.parts.append(f'<div class="skip">Skipped: {html.escape(text)}</div>')

    def bullets(self, items: list[str]) -> None:
        if items:
            lis = "".join(f"<li>{html.escape(i)}</li>" for i in items)
            self.parts.append(f"<ul>{lis}</ul>")

    def table(self, df: pd.DataFrame, *, index: bool = False, floatfmt: str = "{:.3f}") -> None:
        formatters = {c: floatfmt.format for c in df.columns if pd.api.types.is_float_dtype(df[c])}
        self.parts.append(df.to_html(index=index, border=0, formatters=formatters, escape=True))

    def figure(self, fig, name: str, caption: str = "") -> Path:
        """Save a matplotlib figure as ``<name>.png`` and embed it; closes the figure."""
        import matplotlib.pyplot as plt

        path = self.out / f"{name}.png"
        fig.savefig(path, dpi=self.dpi, bbox_inches="tight")
        plt.close(fig)
        self.figures.append(path)
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self.parts.append(f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{data}">{cap}</figure>')
        return path

    def write(self, filename: str = "report.html") -> Path:
        toc = "".join(f'<li><a href="#{a}">{html.escape(t)}</a></li>' for a, t in self.sections)
        page = (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}</title>"
            f"<style>{_CSS}</style></head><body><h1>{html.escape(self.title)}</h1>"
            f"<ul class='toc'>{toc}</ul>{''.join(self.parts)}</body></html>"
        )
        path = self.out / filename
        path.write_text(page, encoding="utf-8")
        return path
