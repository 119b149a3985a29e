"""What the explore and cluster reports share, so that neither imports the other.

- :mod:`.html`: :class:`~.html.HtmlReport`, the self-contained HTML writer (figures inlined).
- :mod:`.plots`: the matplotlib figures (bars, heatmaps, image rows, mean faces, scatters, ...).
- :mod:`.embed`: 2-D embeddings (t-SNE) for scatter plots.
- :mod:`.sweep`: the k-means sweep (inertia, silhouette, the chosen k), label matching, PCA.
- :mod:`.kinds`: which kind of report a folder holds (recorded in its JSON) and finding them.

Example:
    >>> from facelab.report.html import HtmlReport
"""
