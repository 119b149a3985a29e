"""The dashboard's pages, run by ``st.navigation`` in ``main.py`` (scripts, not modules to import).

The folder is not called ``pages/``: Streamlit treats a ``pages/`` folder next to the main script
as a legacy multipage app and runs a page without ``main.py`` when its URL is opened directly.
"""
