"""Log lines stay single lines: text users typed (a place name with line breaks) cannot forge entries.

Every log record's message, once its arguments are filled in, has its line breaks and other control
characters written as escapes (\\n, \\r, \\x1b …). Tracebacks, which the handler appends after the
message, keep their lines: they come from the code, not from a user.
"""

from __future__ import annotations

import logging

_ESCAPES = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F)}
_ESCAPES.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t", 0x2028: "\\u2028", 0x2029: "\\u2029"})
_ESCAPES.update({code: f"\\x{code:02x}" for code in range(0x80, 0xA0)})  # C1 controls, NEL (0x85)


def one_line(text: str) -> str:
    return text.translate(_ESCAPES)


class OneLineRecord(logging.LogRecord):
    def getMessage(self) -> str:
        return one_line(super().getMessage())


def install() -> None:
    """Make every log record of this process single-line (idempotent)."""
    if logging.getLogRecordFactory() is not OneLineRecord:
        logging.setLogRecordFactory(OneLineRecord)
