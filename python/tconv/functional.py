"""conv_transpose2d: the one-shot call, shaped like torch.nn.functional.conv_transpose2d.

Arrays go to the library as strided views of their own memory (element strides = byte
strides / 4): non-contiguous inputs and outputs are never copied. The only copies made
are the ones asked for with cast=True.
"""
import ctypes
import dataclasses
import numbers

import numpy as np

from . import _capi
from .errors import TconvTypeError, TconvValueError, error_for_status

_F32 = np.dtype(np.float32)  # native byte order
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_INT32_MAX = (1 << 31) - 1


# ------------------------------------------------------------------ library info

def version():
    """Version string of the loaded library, e.g. '0.1.0'."""
    return _capi.lib().tconv_version_string().decode()


def version_number():
    """MAJOR * 10000 + MINOR * 100 + PATCH of the loaded library."""
    return int(_capi.lib().tconv_version_number())


def _names(fn):
    names = []
    while True:  # the library answers "?" past the last value it knows
        name = fn(len(names)).decode()
        if name == "?":
            return names
        names.append(name)


def algorithms():
    """Algorithm names by tconv_algorithm value: ['auto', 'reference', ...]. Index 0
    ('auto') lets the library choose; an algorithm listed here may still answer
    NotImplementedError (UNSUPPORTED) for shapes it does not handle or when this build
    lacks it."""
    return _names(_capi.lib().tconv_algorithm_name)


def isas():
    """ISA names by tconv_isa value: ['auto', 'scalar', 'avx2', 'avx512']."""
    return _names(_capi.lib().tconv_isa_name)


def isa():
    """Name of the ISA the library uses for isa='auto' on this CPU (lowered by the
    environment variable TCONV_ISA, read once by the library)."""
    lib = _capi.lib()
    return lib.tconv_isa_name(lib.tconv_isa_detected()).decode()


def status_string(status):
    """tconv_status_string(): the constant name and a short description."""
    return _capi.lib().tconv_status_string(int(status)).decode()


def library_path():
    """Path (or name) of the shared library in use (see README: how it is found)."""
    return _capi.library_path()


# ------------------------------------------------------------------ report

@dataclasses.dataclass(frozen=True)
class Report:
    """What a call did (tconv_report). `algorithm` and `isa` are names; the *_id fields
    are the enum values. For a plan's info, workspace_bytes is the size of its packed
    weights."""
    algorithm: str
    isa: str
    num_threads: int
    workspace_bytes: int
    reason: str
    algorithm_id: int
    isa_id: int

    @classmethod
    def _from_c(cls, rep):
        lib = _capi.lib()
        return cls(algorithm=lib.tconv_algorithm_name(rep.algorithm).decode(),
                   isa=lib.tconv_isa_name(rep.isa).decode(),
                   num_threads=int(rep.num_threads),
                   workspace_bytes=int(rep.workspace_bytes),
                   reason=(rep.reason or b"").decode(),
                   algorithm_id=int(rep.algorithm), isa_id=int(rep.isa))


# ------------------------------------------------------------------ helpers

def _check(status, function):
    """Raises the exception for a failed call, with the thread's error message."""
    if status != 0:
        msg = _capi.lib().tconv_last_error_message().decode(errors="replace")
        raise error_for_status(status, "%s: %s" % (function, msg))


def _is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _int64(name, v):
    if not _is_int(v):
        raise TconvTypeError("%s must be an int, got %r" % (name, v))
    v = int(v)
    if not _INT64_MIN <= v <= _INT64_MAX:
        raise TconvValueError("%s=%d does not fit in int64" % (name, v))
    return v


def _pair(name, v):
    """PyTorch's spatial argument: an int, or a sequence of 1 or 2 ints (height, width)."""
    if _is_int(v):
        v = (v, v)
    elif isinstance(v, (tuple, list, np.ndarray)) and len(v) in (1, 2):
        v = tuple(v) * (3 - len(v))  # (a,) -> (a, a)
    else:
        raise TconvTypeError("%s must be an int or a pair of ints (height, width), got %r"
                             % (name, v))
    return (_int64("%s[0]" % name, v[0]), _int64("%s[1]" % name, v[1]))


def _make_params(stride, padding, output_padding, groups, dilation):
    p = _capi.Params()
    p.stride[:] = _pair("stride", stride)
    p.padding[:] = _pair("padding", padding)
    p.output_padding[:] = _pair("output_padding", output_padding)
    p.dilation[:] = _pair("dilation", dilation)
    p.groups = _int64("groups", groups)
    return p


def _enum_id(kind, value, names):
    if _is_int(value):
        return int(value)  # the library checks the range and names the rule
    if isinstance(value, str):
        try:
            return names.index(value.lower())
        except ValueError:
            pass
    raise TconvValueError("unknown %s %r; this library knows %s" % (kind, value, ", ".join(names)))


def _make_exec(algorithm, isa_, threads):
    e = _capi.Exec()  # all zero = TCONV_EXEC_INIT
    e.algorithm = _enum_id("algorithm", algorithm, algorithms())
    e.isa = _enum_id("isa", isa_, isas())
    if threads is not None:
        t = _int64("threads", threads)
        if t > _INT32_MAX:
            raise TconvValueError("threads=%d does not fit in int32" % t)
        e.num_threads = t  # < 0 is refused by the library with its message
    return e


def _f32(name, a, cast):
    """`a` as a float32 ndarray tconv can view in place; copies only with cast=True."""
    if not isinstance(a, np.ndarray):
        a = np.asarray(a)  # a list or an object with __array__ (e.g. a CPU torch tensor)
    if a.dtype != _F32:
        if not cast:
            raise TconvTypeError(
                "%s must be a float32 array (native byte order), got dtype %s; convert it "
                "with .astype(numpy.float32) or pass cast=True (copies)" % (name, a.dtype))
        return np.array(a, dtype=_F32, order="C")
    if any(s % 4 for s, n in zip(a.strides, a.shape) if n > 1):
        if not cast:
            raise TconvValueError(
                "%s has byte strides %s that are not all multiples of 4 (the float32 size); "
                "tconv takes strides in whole elements: copy it with numpy.ascontiguousarray() "
                "or pass cast=True" % (name, a.strides))
        return np.array(a, dtype=_F32, order="C")
    if cast and not a.flags.aligned:
        return np.array(a, dtype=_F32, order="C")
    return a


def _view(name, a):
    """tconv_tensor viewing ndarray `a` (float32, strides multiple of 4 where it matters)."""
    if a.ndim > _capi.MAX_RANK:
        raise TconvValueError("%s.rank=%d is more than tconv's maximum %d" % (name, a.ndim,
                                                                             _capi.MAX_RANK))
    t = _capi.Tensor()
    t.data = a.ctypes.data
    t.dtype = _capi.DTYPE_F32
    t.rank = a.ndim
    for d in range(a.ndim):
        t.shape[d] = a.shape[d]
        # A dim of size <= 1 is never stepped along: its stride is free.
        t.stride[d] = a.strides[d] // 4 if a.strides[d] % 4 == 0 else 0
    return t


def _shape_view(shape):
    """A tensor carrying only a shape (data NULL, contiguous strides), for plan creation."""
    t = _capi.Tensor()
    t.dtype = _capi.DTYPE_F32
    t.rank = len(shape)
    step = 1
    for d in reversed(range(len(shape))):
        t.shape[d] = shape[d]
        t.stride[d] = step
        step *= max(int(shape[d]), 1)
    return t


def _spatial_output_size(output_size, input_ndim):
    """PyTorch's rule: (H, W), or the full output shape (its last two entries)."""
    try:
        size = [int(v) if _is_int(v) else v for v in output_size]
    except TypeError:
        raise TconvTypeError("output_size must be a sequence of ints, got %r"
                             % (output_size,)) from None
    if len(size) == input_ndim:
        size = size[-2:]
    if len(size) != 2:
        raise TconvValueError(
            "ConvTranspose2d: for %dD input, output_size must have 2 or %d elements (got %d)"
            % (input_ndim, input_ndim, len(size)))
    return (_int64("output_size[0]", size[0]), _int64("output_size[1]", size[1]))


def output_padding_for_size(params, in_size, kernel_size, output_size):
    """tconv_output_padding_for_size: the (oph, opw) giving exactly output_size."""
    arr = ctypes.c_int64 * 2
    op = arr()
    _check(_capi.lib().tconv_output_padding_for_size(
        ctypes.byref(params), arr(*in_size), arr(*kernel_size), arr(*output_size), op),
        "tconv_output_padding_for_size")
    return (op[0], op[1])


def _apply_output_size(params, x, w, output_size):
    """Replaces params.output_padding by the one output_size asks for (PyTorch's module
    semantics: output_size overrides output_padding)."""
    if output_size is None:
        return
    if x.ndim not in (3, 4) or w.ndim != 4:
        return  # the call itself reports the rank error with the library's message
    size = _spatial_output_size(output_size, x.ndim)
    params.output_padding[:] = output_padding_for_size(params, x.shape[-2:], w.shape[-2:], size)


def _output_shape(params, xv, wv):
    shape = (ctypes.c_int64 * _capi.MAX_RANK)()
    _check(_capi.lib().tconv_output_shape(ctypes.byref(params), ctypes.byref(xv),
                                          ctypes.byref(wv), shape), "tconv_output_shape")
    return tuple(shape[d] for d in range(xv.rank))


def _check_out(out):
    if not isinstance(out, np.ndarray):
        raise TconvTypeError("out must be a numpy.ndarray, got %s" % type(out).__name__)
    if out.dtype != _F32:
        raise TconvTypeError("out must be a float32 array (native byte order), got dtype %s"
                             % out.dtype)
    if not out.flags.writeable:
        raise TconvValueError("out is read-only")
    if any(s % 4 for s, n in zip(out.strides, out.shape) if n > 1):
        raise TconvValueError("out has byte strides %s that are not all multiples of 4 (the "
                              "float32 size); tconv writes whole elements" % (out.strides,))
    return out


# ------------------------------------------------------------------ the call

def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1, output_size=None, algorithm="auto", threads=None,
                     out=None, *, isa="auto", cast=False, return_report=False):
    """Transposed 2-D convolution with torch.nn.functional.conv_transpose2d semantics.

    input   (N, Cin, H, W) or unbatched (Cin, H, W), float32
    weight  (Cin, Cout/groups, kH, kW), float32 (PyTorch's layout)
    bias    (Cout,) or None
    stride, padding, output_padding, dilation: int or (height, width)
    output_size: (H, W) or the full output shape; it replaces output_padding, as in
        torch.nn.ConvTranspose2d.forward(input, output_size)
    algorithm: 'auto' or a name from tconv.algorithms() (or its value)
    threads: None = the library's default, 1 = the calling thread only, n = n threads
    out: a float32 array of the output shape to write into (any non-overlapping strides)
    isa: 'auto' or a name from tconv.isas()
    cast: copy inputs tconv cannot view as they are (other dtypes, a non-native byte
        order, byte strides not a multiple of 4, misaligned data) into float32 arrays;
        without it such inputs raise TypeError / ValueError
    return_report: return (output, tconv.Report) instead of the output

    Returns the output array (`out` itself when given). Raises a tconv.TconvError
    subclass (ValueError, TypeError, MemoryError, NotImplementedError, RuntimeError)
    carrying the library's message.
    """
    lib = _capi.lib()
    x = _f32("input", input, cast)
    w = _f32("weight", weight, cast)
    b = None if bias is None else _f32("bias", bias, cast)
    params = _make_params(stride, padding, output_padding, groups, dilation)
    ex = _make_exec(algorithm, isa, threads)
    _apply_output_size(params, x, w, output_size)

    xv, wv = _view("input", x), _view("weight", w)
    bv = None if b is None else _view("bias", b)
    if out is None:
        out = np.empty(_output_shape(params, xv, wv), dtype=_F32)
    else:
        _check_out(out)
    yv = _view("output", out)

    rep = _capi.Report()
    _check(lib.tconv_convtranspose2d_ex(ctypes.byref(params), ctypes.byref(xv),
                                        ctypes.byref(wv),
                                        None if bv is None else ctypes.byref(bv),
                                        ctypes.byref(yv), ctypes.byref(ex), ctypes.byref(rep)),
           "tconv_convtranspose2d_ex")
    if return_report:
        return out, Report._from_c(rep)
    return out
