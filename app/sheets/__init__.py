"""Spreadsheets read within bounds (kernel): openpyxl's home for reading, with app/exports for writing.

`bounded` checks an untrusted .xlsx before openpyxl parses it, `values` converts typed cell values, and
`names` reads a plain first sheet (the species lists). What a census workbook means is app/exports'.
"""
