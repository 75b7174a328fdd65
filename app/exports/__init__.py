"""Exports: census workbooks written from each bureau's template, and legacy census workbooks read back."""
