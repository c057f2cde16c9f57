"""ctypes mirror of include/tconv.h and the code that finds and loads libtconv.

The structs below repeat the C layouts field by field; docs/FFI.md lists their sizes
and offsets on LP64 and tests/test_api.py checks them with ctypes.sizeof/offsetof.
Enums cross the boundary as int32 (the C structs store them in int32_t fields, and
every function taking or returning an enum is declared with c_int here).

The library is loaded lazily, on the first call that needs it, so that `import tconv`
works (and `help(tconv)` reads) even where the shared library is missing.
"""
import ctypes
import ctypes.util
import glob
import json
import os
import subprocess
import threading

from .errors import LibraryNotFoundError

# The ABI this file mirrors: the library's major version must match (soversion = major).
ABI_MAJOR = 0

MAX_RANK = 4
DTYPE_F32 = 1
FLAG_NO_ALLOC = 1


class Tensor(ctypes.Structure):
    """tconv_tensor: a non-owning strided view (strides in elements)."""
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("dtype", ctypes.c_int32),
        ("rank", ctypes.c_int32),
        ("shape", ctypes.c_int64 * MAX_RANK),
        ("stride", ctypes.c_int64 * MAX_RANK),
        ("reserved", ctypes.c_int64 * 2),
    ]


class Params(ctypes.Structure):
    """tconv_params: [0] = height, [1] = width."""
    _fields_ = [
        ("stride", ctypes.c_int64 * 2),
        ("padding", ctypes.c_int64 * 2),
        ("output_padding", ctypes.c_int64 * 2),
        ("dilation", ctypes.c_int64 * 2),
        ("groups", ctypes.c_int64),
        ("reserved", ctypes.c_int64 * 7),
    ]


ALLOC_FN = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t)
FREE_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
TASK_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int64)
PARALLEL_FOR_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, TASK_FN, ctypes.c_void_p,
                                   ctypes.c_int64)


class Allocator(ctypes.Structure):
    """tconv_allocator."""
    _fields_ = [
        ("alloc", ALLOC_FN),
        ("free", FREE_FN),
        ("ctx", ctypes.c_void_p),
    ]


class Exec(ctypes.Structure):
    """tconv_exec: execution options (all zero = defaults)."""
    _fields_ = [
        ("algorithm", ctypes.c_int32),
        ("isa", ctypes.c_int32),
        ("num_threads", ctypes.c_int32),
        ("flags", ctypes.c_uint32),
        ("workspace", ctypes.c_void_p),
        ("workspace_size", ctypes.c_size_t),
        ("allocator", ctypes.POINTER(Allocator)),
        ("parallel_for", PARALLEL_FOR_FN),
        ("parallel_ctx", ctypes.c_void_p),
        ("reserved", ctypes.c_int64 * 6),
    ]


class Report(ctypes.Structure):
    """tconv_report: what a call did."""
    _fields_ = [
        ("algorithm", ctypes.c_int32),
        ("isa", ctypes.c_int32),
        ("num_threads", ctypes.c_int32),
        ("reserved0", ctypes.c_int32),
        ("workspace_bytes", ctypes.c_size_t),
        ("reason", ctypes.c_char_p),
        ("reserved", ctypes.c_int64 * 4),
    ]


# Sizes on LP64 (x86-64 / aarch64 Linux and macOS), from offsetof in a C program;
# tests/test_api.py compares them with ctypes, docs/FFI.md documents them.
LP64_SIZES = {"tconv_tensor": 96, "tconv_params": 128, "tconv_allocator": 24,
              "tconv_exec": 104, "tconv_report": 64}

_c_status = ctypes.c_int  # tconv_status is a C enum: int-sized on every supported ABI
_P = ctypes.POINTER
_I64x4 = ctypes.c_int64 * MAX_RANK
_I64x2 = ctypes.c_int64 * 2
_PlanP = ctypes.c_void_p  # tconv_plan * (opaque)

# name: (restype, argtypes)
_PROTOTYPES = {
    "tconv_version_number": (ctypes.c_uint, []),
    "tconv_version_string": (ctypes.c_char_p, []),
    "tconv_status_string": (ctypes.c_char_p, [_c_status]),
    "tconv_last_error_message": (ctypes.c_char_p, []),
    "tconv_tensor_nchw": (Tensor, [ctypes.c_void_p] + [ctypes.c_int64] * 4),
    "tconv_tensor_nhwc": (Tensor, [ctypes.c_void_p] + [ctypes.c_int64] * 4),
    "tconv_tensor_chw": (Tensor, [ctypes.c_void_p] + [ctypes.c_int64] * 3),
    "tconv_tensor_1d": (Tensor, [ctypes.c_void_p, ctypes.c_int64]),
    "tconv_params_default": (Params, []),
    "tconv_output_shape": (_c_status, [_P(Params), _P(Tensor), _P(Tensor), _I64x4]),
    "tconv_output_padding_for_size": (_c_status, [_P(Params), _I64x2, _I64x2, _I64x2, _I64x2]),
    "tconv_algorithm_name": (ctypes.c_char_p, [ctypes.c_int]),
    "tconv_isa_name": (ctypes.c_char_p, [ctypes.c_int]),
    "tconv_isa_detected": (ctypes.c_int, []),
    "tconv_exec_default": (Exec, []),
    "tconv_convtranspose2d": (_c_status, [_P(Params), _P(Tensor), _P(Tensor), _P(Tensor),
                                          _P(Tensor)]),
    "tconv_convtranspose2d_ex": (_c_status, [_P(Params), _P(Tensor), _P(Tensor), _P(Tensor),
                                             _P(Tensor), _P(Exec), _P(Report)]),
    "tconv_workspace_size": (_c_status, [_P(Params), _P(Tensor), _P(Tensor), _P(Tensor),
                                         _P(Tensor), _P(Exec), _P(ctypes.c_size_t)]),
    "tconv_plan_create": (_c_status, [_P(_PlanP), _P(Params), _P(Tensor), _P(Tensor),
                                      _P(Tensor), _P(Exec)]),
    "tconv_plan_run": (_c_status, [_PlanP, _P(Tensor), _P(Tensor), _P(Exec), _P(Report)]),
    "tconv_plan_workspace_size": (_c_status, [_PlanP, _P(Exec), _P(ctypes.c_size_t)]),
    "tconv_plan_info": (_c_status, [_PlanP, _P(Report)]),
    "tconv_plan_destroy": (None, [_PlanP]),
}

_lock = threading.Lock()
_lib = None
_lib_path = None


def _repo_root():
    # python/tconv/_capi.py -> the repository holding python/
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _asan_build(build_dir):
    """True if build_dir is a meson build with AddressSanitizer."""
    try:
        with open(os.path.join(build_dir, "meson-info", "intro-buildoptions.json")) as f:
            options = json.load(f)
    except (OSError, ValueError):
        return False
    return any(o.get("name") == "b_sanitize" and "address" in str(o.get("value"))
               for o in options)


def _asan_loaded():
    try:
        return hasattr(ctypes.CDLL(None), "__asan_init")
    except OSError:
        return False


def _build_tree_candidates(tried):
    """libtconv.so* files in <repo>/build*/src, newest build first. AddressSanitizer
    builds are skipped unless the ASan runtime is already loaded (LD_PRELOAD): loading
    one into a plain interpreter aborts the process instead of failing."""
    found = []
    asan_ok = None
    skipped = set()
    for path in sorted(glob.glob(os.path.join(_repo_root(), "build*", "src", "libtconv.so*"))):
        if not os.path.isfile(path) or path.endswith((".p", ".a")):
            continue
        build_dir = os.path.dirname(os.path.dirname(path))
        if build_dir in skipped:
            continue
        if _asan_build(build_dir):
            asan_ok = _asan_loaded() if asan_ok is None else asan_ok
            if not asan_ok:
                skipped.add(build_dir)
                tried.append("%s: skipped, an AddressSanitizer build (preload libasan or "
                             "set TCONV_LIBRARY)" % build_dir)
                continue
        found.append(path)
    # One per build directory: the unversioned link if present, else the shortest name.
    per_dir = {}
    for path in sorted(found, key=len):
        per_dir.setdefault(os.path.dirname(path), path)
    return sorted(per_dir.values(), key=lambda p: os.path.getmtime(os.path.realpath(p)),
                  reverse=True)


def _pkg_config_candidates():
    try:
        res = subprocess.run(["pkg-config", "--variable=libdir", "tconv"], capture_output=True,
                             text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return [], "pkg-config --variable=libdir tconv: %s" % exc
    libdir = res.stdout.strip()
    if res.returncode != 0 or not libdir:
        return [], "pkg-config --variable=libdir tconv: %s" % (
            res.stderr.strip() or "exit status %d" % res.returncode)
    names = ["libtconv.so.%d" % ABI_MAJOR, "libtconv.so", "libtconv.dylib"]
    return [os.path.join(libdir, n) for n in names], None


def _try_load(path, tried):
    try:
        lib = ctypes.CDLL(path)
    except OSError as exc:
        tried.append("%s: %s" % (path, exc))
        return None
    return lib


def _declare(lib):
    for name, (restype, argtypes) in _PROTOTYPES.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes


def _check_version(lib, path):
    number = lib.tconv_version_number()
    if number // 10000 != ABI_MAJOR:
        raise LibraryNotFoundError(
            "%s is tconv %s (major %d), but this Python package mirrors the ABI of major "
            "version %d" % (path, lib.tconv_version_string().decode(), number // 10000,
                            ABI_MAJOR))


def _find_and_load():
    tried = []
    env = os.environ.get("TCONV_LIBRARY")
    if env:
        # An explicit choice never falls back silently to another library.
        lib = _try_load(env, tried)
        if lib is None:
            raise LibraryNotFoundError("TCONV_LIBRARY=%s could not be loaded:\n  %s"
                                       % (env, tried[-1]))
        return lib, env
    tried.append("TCONV_LIBRARY: not set")

    candidates = _build_tree_candidates(tried)
    if not candidates:
        tried.append("build tree: no %s" % os.path.join(_repo_root(), "build*", "src",
                                                        "libtconv.so*"))
    for path in candidates:
        lib = _try_load(path, tried)
        if lib is not None:
            return lib, path

    name = ctypes.util.find_library("tconv")
    if name:
        lib = _try_load(name, tried)
        if lib is not None:
            return lib, name
    else:
        tried.append("ctypes.util.find_library('tconv'): not found")

    paths, why = _pkg_config_candidates()
    if why:
        tried.append(why)
    for path in paths:
        if os.path.exists(path):
            lib = _try_load(path, tried)
            if lib is not None:
                return lib, path
        else:
            tried.append("%s: no such file (from pkg-config)" % path)

    raise LibraryNotFoundError(
        "cannot find the tconv shared library (libtconv.so). Tried, in order:\n  "
        + "\n  ".join(tried)
        + "\nBuild it (meson setup build && ninja -C build) or set TCONV_LIBRARY to its path.")


def lib():
    """The loaded library with its prototypes declared (loads it on first use)."""
    global _lib, _lib_path
    if _lib is None:
        with _lock:
            if _lib is None:
                handle, path = _find_and_load()
                _declare(handle)
                _check_version(handle, path)
                _lib_path = path
                _lib = handle
    return _lib


def library_path():
    """Path (or name) of the loaded shared library."""
    lib()
    return _lib_path
