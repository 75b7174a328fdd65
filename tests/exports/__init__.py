"""Tests of census workbooks: templates, writing, reading back, the export job and its API."""
