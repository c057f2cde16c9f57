"""tconv: 2-D transposed convolution with torch.nn.ConvTranspose2d semantics, through
ctypes on the C library libtconv (no compiled extension; numpy in and out).

    import numpy as np, tconv
    y = tconv.conv_transpose2d(x, w, b, stride=2, padding=1)       # like F.conv_transpose2d
    y, report = tconv.conv_transpose2d(x, w, return_report=True)   # which algorithm ran
    with tconv.ConvTranspose2d(16, 8, 4, stride=2, padding=1) as layer:  # plan-backed
        y = layer(x)

The shared library is found through $TCONV_LIBRARY (a path), then the build tree
(<repo>/build*/src/libtconv.so*), then the system (ctypes.util.find_library, then
pkg-config). See python/README.md and docs/FFI.md.
"""
from .errors import (LibraryNotFoundError, Status, TconvError, TconvMemoryError,
                     TconvNotImplementedError, TconvRuntimeError, TconvTypeError,
                     TconvValueError)
from .functional import (Report, algorithms, conv_transpose2d, isa, isas, library_path,
                         status_string, version, version_number)
from .layer import ConvTranspose2d

__all__ = [
    "ConvTranspose2d", "LibraryNotFoundError", "Report", "Status", "TconvError",
    "TconvMemoryError", "TconvNotImplementedError", "TconvRuntimeError", "TconvTypeError",
    "TconvValueError", "algorithms", "conv_transpose2d", "isa", "isas", "library_path",
    "status_string", "version", "version_number",
]
