"""Helpers of build.py: vendoring the Pyodide runtime and packaging vi_core for the browser."""
