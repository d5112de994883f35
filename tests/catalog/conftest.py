"""Fixtures of the catalog tests: the local HTTP server lives in httpserver.py."""

from tests.catalog.httpserver import http_files, https_files

__all__ = ["http_files", "https_files"]
