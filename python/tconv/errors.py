"""Exceptions raised by tconv.

Every exception tconv raises derives from TconvError and also from the built-in
exception a Python caller expects (ValueError, TypeError, MemoryError, ...), so both
`except tconv.TconvError` and `except ValueError` work.

`.status` is the library's tconv_status (a tconv.Status) when the C library reported
the error, or None when the Python wrapper refused the call before reaching it (a
wrong dtype, a stride that is not a multiple of 4 bytes, ...). The message of a
library error is tconv_last_error_message(), which names the rule and the values.
"""
import enum


class Status(enum.IntEnum):
    """tconv_status values (stable: they never change meaning)."""
    OK = 0
    ERR_NULL_POINTER = 1
    ERR_INVALID_ARGUMENT = 2
    ERR_SHAPE_MISMATCH = 3
    ERR_SIZE_OVERFLOW = 4
    ERR_ALIASING = 5
    ERR_UNSUPPORTED = 6
    ERR_OUT_OF_MEMORY = 7
    ERR_WORKSPACE_TOO_SMALL = 8
    ERR_SYSTEM = 9


class TconvError(Exception):
    """Base of every tconv exception. `.status`: tconv.Status or None (see module doc)."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status

    @property
    def status_name(self):
        """'TCONV_ERR_...' for library errors, None for wrapper-side errors."""
        if self.status is None:
            return None
        try:
            return "TCONV_" + Status(self.status).name
        except ValueError:
            return "TCONV_ERR_%d" % self.status


class TconvValueError(TconvError, ValueError):
    """A parameter or shape breaks a rule (INVALID_ARGUMENT, SHAPE_MISMATCH, NULL_POINTER,
    ALIASING, SIZE_OVERFLOW), or the wrapper found a bad value."""


class TconvTypeError(TconvError, TypeError):
    """Wrong Python or numpy type (e.g. not float32 without cast=True)."""


class TconvMemoryError(TconvError, MemoryError):
    """OUT_OF_MEMORY."""


class TconvNotImplementedError(TconvError, NotImplementedError):
    """UNSUPPORTED: a valid request this build or the requested algorithm cannot run."""


class TconvRuntimeError(TconvError, RuntimeError):
    """WORKSPACE_TOO_SMALL, SYSTEM, and any status this package does not know."""


class LibraryNotFoundError(TconvError, OSError):
    """The shared library could not be found or loaded; the message lists what was tried."""


_CLASS_OF = {
    Status.ERR_NULL_POINTER: TconvValueError,
    Status.ERR_INVALID_ARGUMENT: TconvValueError,
    Status.ERR_SHAPE_MISMATCH: TconvValueError,
    Status.ERR_SIZE_OVERFLOW: TconvValueError,
    Status.ERR_ALIASING: TconvValueError,
    Status.ERR_UNSUPPORTED: TconvNotImplementedError,
    Status.ERR_OUT_OF_MEMORY: TconvMemoryError,
}


def error_for_status(status, message):
    """The exception (not raised) for a non-OK status and its message."""
    cls = _CLASS_OF.get(status, TconvRuntimeError)
    try:
        status = Status(status)
        name = "TCONV_" + status.name
    except ValueError:
        name = "TCONV_ERR_%d" % status
    return cls("%s [%s]" % (message or "(no message)", name), status)
