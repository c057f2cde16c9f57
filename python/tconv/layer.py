"""ConvTranspose2d: a layer object shaped like torch.nn.ConvTranspose2d, run through a
tconv_plan (the weights packed once, reused by every call that fits).

The plan is created lazily, at the first call, from the weight, the bias and the input
shape. It is kept while calls fit it (same C, H, W, parameters and an N no larger than
planned) and recreated when they do not, or when the weight or bias changed, whether
by assignment (layer.weight = w) or in place (layer.weight[...] = v: each call compares
the arrays with a private snapshot taken when the plan was made).

Free the plan deterministically with close() or a `with` block; __del__ frees it too.
"""
import ctypes
import math
import threading

import numpy as np

from . import _capi
from .errors import TconvTypeError, TconvValueError
from .functional import (Report, _F32, _apply_output_size, _check, _check_out, _f32,
                         _is_int, _make_exec, _make_params, _output_shape, _pair, _shape_view,
                         _view)


def _same_bits(a, snapshot):
    # Bitwise, so NaN weights compare equal to themselves and -0.0 differs from 0.0.
    return a.shape == snapshot.shape and np.array_equal(a.view(np.uint32),
                                                        snapshot.view(np.uint32))


class ConvTranspose2d:
    """A transposed 2-D convolution layer with torch.nn.ConvTranspose2d's parameters.

    weight has shape (in_channels, out_channels // groups, kH, kW) and bias (out_channels,)
    (or None); both are float32 numpy arrays, initialised like PyTorch's (uniform in
    +-1/sqrt(out_channels // groups * kH * kW)) from `rng` (a numpy Generator, or a seed),
    and may be replaced or modified in place at any time.

    layer(input, output_size=None, out=None, threads=None, cast=False) runs it; after a call
    layer.last_report says which algorithm and ISA ran. algorithm / isa / threads given
    here are the defaults of every call (threads can be overridden per call).

    One call at a time per layer object (calls are serialised by a lock); for concurrent
    inference use one layer per thread or the functional tconv.conv_transpose2d.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros", *,
                 algorithm="auto", isa="auto", threads=None, rng=None):
        for name, v in (("in_channels", in_channels), ("out_channels", out_channels),
                        ("groups", groups)):
            if not _is_int(v):
                raise TconvTypeError("%s must be an int, got %r" % (name, v))
        if groups <= 0:
            raise TconvValueError("groups=%d must be a positive integer" % groups)
        if in_channels % groups != 0:
            raise TconvValueError("in_channels=%d must be divisible by groups=%d"
                                  % (in_channels, groups))
        if out_channels % groups != 0:
            raise TconvValueError("out_channels=%d must be divisible by groups=%d"
                                  % (out_channels, groups))
        if padding_mode != "zeros":
            raise TconvValueError('Only "zeros" padding mode is supported for ConvTranspose2d '
                                  "(got %r)" % (padding_mode,))
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = _pair("kernel_size", kernel_size)
        self.stride = _pair("stride", stride)
        self.padding = _pair("padding", padding)
        self.output_padding = _pair("output_padding", output_padding)
        self.dilation = _pair("dilation", dilation)
        self.groups = int(groups)
        self.padding_mode = padding_mode
        self.algorithm = algorithm
        self.isa = isa
        self.threads = threads
        self.last_report = None

        self._lock = threading.RLock()
        self._plan = None          # tconv_plan * as an int, or None
        self._plan_key = None
        self._plan_n = 0
        self._destroy = None       # kept so that __del__ works during interpreter shutdown
        self._w_snap = self._b_snap = None

        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        kh, kw = self.kernel_size
        fan_in = (self.out_channels // self.groups) * kh * kw
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        self._weight = gen.uniform(-bound, bound, self._weight_shape()).astype(_F32)
        self._bias = gen.uniform(-bound, bound, (self.out_channels,)).astype(_F32) \
            if bias else None

    # ---------------------------------------------------------------- parameters
    def _weight_shape(self):
        return (self.in_channels, self.out_channels // self.groups) + tuple(self.kernel_size)

    @property
    def weight(self):
        """(in_channels, out_channels // groups, kH, kW) float32; any strides."""
        return self._weight

    @weight.setter
    def weight(self, value):
        w = self._check_param("weight", value, self._weight_shape())
        with self._lock:
            self._weight = w

    @property
    def bias(self):
        """(out_channels,) float32, or None for no bias."""
        return self._bias

    @bias.setter
    def bias(self, value):
        b = None if value is None else self._check_param("bias", value, (self.out_channels,))
        with self._lock:
            self._bias = b

    @staticmethod
    def _check_param(name, value, shape):
        if not isinstance(value, np.ndarray) or value.dtype != _F32:
            raise TconvTypeError("%s must be a float32 numpy array, got %s; convert it with "
                                 ".astype(numpy.float32)"
                                 % (name, getattr(value, "dtype", type(value).__name__)))
        if value.shape != tuple(shape):
            raise TconvValueError("%s.shape=%s must be %s" % (name, value.shape, tuple(shape)))
        return _f32(name, value, False)  # checks the strides

    # ---------------------------------------------------------------- plan
    def _params(self):
        return _make_params(self.stride, self.padding, self.output_padding, self.groups,
                            self.dilation)

    def _weights_changed(self):
        if (self._bias is None) != (self._b_snap is None):
            return True
        if not _same_bits(self._weight, self._w_snap):
            return True
        return self._bias is not None and not _same_bits(self._bias, self._b_snap)

    def _ensure_plan(self, params, x4_shape):
        n = x4_shape[0]
        key = (tuple(x4_shape[1:]), tuple(params.stride), tuple(params.padding),
               tuple(params.output_padding), tuple(params.dilation), params.groups,
               self.algorithm, self.isa)
        if (self._plan is not None and key == self._plan_key and n <= self._plan_n
                and not self._weights_changed()):
            return
        # Grow N to the largest seen with this geometry; plan at least one image.
        plan_n = max(n, 1, self._plan_n if key == self._plan_key else 0)
        self._free_plan()
        lib = _capi.lib()
        wv = _view("weight", self._weight)
        bv = None if self._bias is None else _view("bias", self._bias)
        xv = _shape_view((plan_n,) + tuple(x4_shape[1:]))
        ex = _make_exec(self.algorithm, self.isa, None)
        handle = ctypes.c_void_p()
        _check(lib.tconv_plan_create(ctypes.byref(handle), ctypes.byref(params),
                                     ctypes.byref(xv), ctypes.byref(wv),
                                     None if bv is None else ctypes.byref(bv),
                                     ctypes.byref(ex)), "tconv_plan_create")
        self._plan, self._plan_key, self._plan_n = handle.value, key, plan_n
        self._destroy = lib.tconv_plan_destroy
        self._w_snap = np.array(self._weight, copy=True)
        self._b_snap = None if self._bias is None else np.array(self._bias, copy=True)

    def _free_plan(self):
        if self._plan is not None:
            self._destroy(self._plan)
            self._plan = None
            self._plan_key = None

    def plan_info(self):
        """tconv.Report of the current plan (workspace_bytes = its packed weights), or
        None before the first call."""
        with self._lock:
            if self._plan is None:
                return None
            rep = _capi.Report()
            _check(_capi.lib().tconv_plan_info(self._plan, ctypes.byref(rep)),
                   "tconv_plan_info")
            return Report._from_c(rep)

    # ---------------------------------------------------------------- running
    def __call__(self, input, output_size=None, *, out=None, threads=None, cast=False):
        """Runs the layer. input: (N, Cin, H, W) or unbatched (Cin, H, W) float32.
        output_size: (H, W) or the full output shape; replaces output_padding for this
        call, as in PyTorch. out: float32 array of the output shape to write into."""
        x = _f32("input", input, cast)
        if x.ndim not in (3, 4):
            raise TconvValueError("input.rank=%d must be 3 (Cin, H, W) or 4 (N, Cin, H, W)"
                                  % x.ndim)
        if out is not None:
            _check_out(out)
            if out.ndim != x.ndim:
                raise TconvValueError("out.rank=%d must equal the input's rank %d"
                                      % (out.ndim, x.ndim))
        unbatched = x.ndim == 3
        x4 = x[np.newaxis] if unbatched else x
        with self._lock:
            params = self._params()
            w = self._weight
            _apply_output_size(params, x, w, output_size)
            # Validates shapes and params with the library's messages before planning.
            shape4 = _output_shape(params, _view("input", x4), _view("weight", w))
            if out is None:
                out = np.empty(shape4[1:] if unbatched else shape4, dtype=_F32)
            y4 = out[np.newaxis] if unbatched else out
            self._ensure_plan(params, x4.shape)
            xv, yv = _view("input", x4), _view("output", y4)
            ex = _make_exec("auto", "auto", self.threads if threads is None else threads)
            rep = _capi.Report()
            _check(_capi.lib().tconv_plan_run(self._plan, ctypes.byref(xv), ctypes.byref(yv),
                                              ctypes.byref(ex), ctypes.byref(rep)),
                   "tconv_plan_run")
            self.last_report = Report._from_c(rep)
        return out

    forward = __call__

    # ---------------------------------------------------------------- lifetime
    def close(self):
        """Frees the plan now (the layer stays usable: the next call plans again)."""
        with self._lock:
            self._free_plan()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            if getattr(self, "_plan", None) is not None and self._destroy is not None:
                self._destroy(self._plan)
                self._plan = None
        except Exception:  # pragma: no cover - interpreter shutdown
            pass

    def __repr__(self):
        s = ("ConvTranspose2d(%d, %d, kernel_size=%s, stride=%s, padding=%s, "
             "output_padding=%s, groups=%d, bias=%s, dilation=%s, algorithm=%r)"
             % (self.in_channels, self.out_channels, self.kernel_size, self.stride,
                self.padding, self.output_padding, self.groups, self._bias is not None,
                self.dilation, self.algorithm))
        return s
