"""The Streamlit dashboard: pages that call the library and render (docs/serving.md, docs/architecture.md)."""
