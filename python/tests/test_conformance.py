#!/usr/bin/env python3
"""PyTorch conformance suite: tconv against torch.nn.functional.conv_transpose2d.

Run (from the repository root, after building):
    PYTHONPATH=python TCONV_LIBRARY=build/src/libtconv.so /usr/bin/python3 \
        python/tests/test_conformance.py
or `meson test -C build --suite ffi`. Needs PyTorch (Debian: apt-get install python3-torch)
and numpy; without torch the suite FAILS, it does not skip (CI must run it).

Environment:
    TCONV_CONFORMANCE_SEED  master seed (default below, always printed)
    TCONV_CONFORMANCE_N     number of random valid configurations (default 2000); a
                            further 40% of that many boundary/invalid configurations
                            check that tconv and PyTorch reject the same ones

What is checked
  1. Random valid configurations covering every parameter (stride 1-4, padding up to
     dilation*(k-1) and beyond where legal, output_padding under PyTorch's rule,
     groups incl. depthwise, dilation 1-3, kernels 1-7, non-square everything, batch
     0-4, unbatched input, bias or not, output_size as (H, W) or the full shape,
     non-contiguous input/weight/bias/output views: permuted (channels-last), sliced,
     negative strides, broadcast (stride 0) inputs). Each runs through every algorithm
     the library names (tconv_algorithm_name(1..)), at every ISA this CPU has, and
     'auto', one-shot and through a plan (ConvTranspose2d, also rerun with a smaller
     batch). An algorithm may answer UNSUPPORTED (NotImplementedError) for a shape: that
     is counted; the reference and auto never may. Also checked: the inputs are not
     modified, memory around a sliced output is not touched, every output element is
     written (outputs start as NaN), the report names the algorithm that was asked for.
  2. The error bound. The exact result is PyTorch's conv_transpose2d in float64 on the
     same float32 data (its own error, about K * 2^-53 * S, is negligible). Each output
     element must satisfy
         |tconv - exact| <= C * (K + 1) * 2^-24 * S,   S = |bias| + sum |x * w|
     with K = Cin/groups * kH * kW (the most products one element sums) and S computed
     by PyTorch in float64 on the absolute values. For any summation order, with each
     product and each addition rounded once to float32 (or fused), the rigorous bound
     is gamma(K+1) * S with gamma(n) = n*u / (1 - n*u), u = 2^-24, i.e. C = 1 up to the
     1/(1 - n*u) factor. C = 2 (TOLERANCE_C) is a margin for (i) that factor, (ii) the
     float64 reference's own rounding, and (iii) one extra rounding per term that a
     lowering may introduce (an operand rounded again when packed or transformed),
     which the C = 1 bound does not allow. It stays tight: a single missing, extra or
     misplaced term (an off-by-one in an index) exceeds it unless that term is itself
     below 2 (K+1) 2^-24 S. The summary prints the worst error in units of it.
  3. Validity agreement. Boundary and invalid configurations (stride/dilation 0,
     negative or too large padding, output_padding at and past the rule
     output_padding < stride or < dilation, output size 0 or negative, channels not
     divisible by groups, weight/bias shape mismatches, zero-sized dims, output_size out
     of range or of the wrong length, ...): tconv must reject exactly what PyTorch
     rejects, with a ValueError (a tconv.TconvError), and accept the rest with the same
     output shape and values. For a further sample of valid configurations, output_size
     at and one past each end of the valid range [min, min + stride - 1] in each
     dimension: same verdict and output shape as PyTorch's module.

Known, deliberate differences from PyTorch (also in docs/FFI.md):
  - Batch 0. With an empty batch PyTorch skips most checks: it accepts output_padding
    that breaks its own rule, dilation 0, an output size of 0 and zero-sized spatial
    input dims, and returns an empty tensor. tconv validates an empty batch exactly like
    a batch of one. The suite therefore holds tconv's verdict on a batch-0 configuration
    to PyTorch's verdict on the same configuration with batch 1.
  - Error classes. PyTorch raises RuntimeError (or ValueError/IndexError); tconv raises
    ValueError subclasses carrying tconv.TconvError. Only the verdict is compared.
  - output_size in the functional API. PyTorch's functional conv_transpose2d has no
    output_size; tconv's takes it with the module's semantics (it replaces
    output_padding), which is what the suite compares against (the module's
    _output_padding followed by the functional call).

A failing configuration prints one line that reproduces it:
    REPRO: ... python3 -c "import test_conformance as t; t.check(t.Config(...))"
"""
import dataclasses
import math
import os
import sys
import time
import types
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # python/ (the package) when run as a script

import tconv  # noqa: E402

try:
    import torch
    import torch.nn.functional as F
    TORCH_ERROR = None
except ImportError as exc:  # reported as a failure, see TorchAvailable
    torch = F = None
    TORCH_ERROR = exc

DEFAULT_SEED = 20240611
TOLERANCE_C = 2.0
U = 2.0 ** -24
SENTINEL = np.float32(7777.0)  # fills memory around a sliced output: must survive
MAX_PRINTED_FAILURES = 25


# ---------------------------------------------------------------- configurations

@dataclasses.dataclass
class Config:
    """One call. Shapes are given raw (so invalid ones can be described):
    input (n, cin, h, w), or (cin, h, w) when n is None (unbatched);
    weight (wcin, cout_g, kh, kw); bias (bias_len,) or none when bias_len is None."""
    n: object
    cin: int
    h: int
    w: int
    wcin: int
    cout_g: int
    kh: int
    kw: int
    groups: int
    bias_len: object
    stride: tuple
    padding: tuple
    output_padding: tuple
    dilation: tuple
    output_size: object = None   # None, (H, W) or the full output shape
    x_layout: str = "contig"     # contig nhwc perm slice flip bcast
    w_layout: str = "contig"     # contig perm slice flip bcast
    b_layout: str = "contig"     # contig slice flip bcast
    y_layout: str = "none"       # none (tconv allocates) contig nhwc perm slice flip
    threads: object = None
    data: str = "normal"         # normal wide int sparse
    seed: int = 0

    def x_shape(self):
        return (self.cin, self.h, self.w) if self.n is None else (self.n, self.cin, self.h,
                                                                    self.w)

    def w_shape(self):
        return (self.wcin, self.cout_g, self.kh, self.kw)

    def kwargs(self):
        return dict(stride=self.stride, padding=self.padding,
                    output_padding=self.output_padding, groups=self.groups,
                    dilation=self.dilation)


def out_dim(i, k, s, p, d, op):
    return (i - 1) * s - 2 * p + d * (k - 1) + op + 1


def pick(rng, seq):
    return seq[int(rng.integers(len(seq)))]


def random_valid_config(rng, seed):
    """A configuration PyTorch accepts (with N >= 1), drawn to cover every parameter."""
    r = rng.random()
    if r < 0.45:
        groups, cin_g, cout_g = 1, int(rng.integers(1, 9)), int(rng.integers(1, 9))
    elif r < 0.70:
        groups, cin_g, cout_g = int(rng.integers(2, 5)), int(rng.integers(1, 5)), \
            int(rng.integers(1, 5))
    else:  # depthwise, with or without a channel multiplier
        groups, cin_g, cout_g = int(rng.integers(1, 13)), 1, int(pick(rng, [1, 1, 2, 3]))
    cin = groups * cin_g

    def pair(lo, hi, square_p):
        a = int(rng.integers(lo, hi + 1))
        return (a, a) if rng.random() < square_p else (a, int(rng.integers(lo, hi + 1)))

    kh, kw = pair(1, 7, 0.4)
    stride = pair(1, 4, 0.4)
    dilation = (1, 1) if rng.random() < 0.4 else pair(1, 3, 0.3)
    h, w = int(rng.integers(1, 8)), int(rng.integers(1, 8))
    op = tuple(int(rng.integers(0, max(stride[d], dilation[d]))) for d in range(2))
    ks = (kh, kw)
    ins = (h, w)
    pad = []
    for d in range(2):
        reach = dilation[d] * (ks[d] - 1)
        legal_max = ((ins[d] - 1) * stride[d] + reach + op[d]) // 2  # output >= 1
        if rng.random() < 0.2 and legal_max > reach:
            pad.append(int(rng.integers(reach + 1, legal_max + 1)))  # beyond d*(k-1)
        else:
            pad.append(int(rng.integers(0, min(reach, legal_max) + 1)))
    pad = tuple(pad)
    r = rng.random()
    n = None if r < 0.15 else 0 if r < 0.22 else int(rng.integers(1, 5))
    bias = rng.random() < 0.5
    output_size = None
    lo = [out_dim(ins[d], ks[d], stride[d], pad[d], dilation[d], 0) for d in range(2)]
    if rng.random() < 0.2 and all(lo[d] + stride[d] > 1 for d in range(2)):
        size = [int(rng.integers(max(lo[d], 1), lo[d] + stride[d])) for d in range(2)]
        if rng.random() < 0.5:  # the full output shape, as PyTorch's module accepts
            lead = (groups * cout_g,) if n is None else (n, groups * cout_g)
            size = list(lead) + size
        output_size = tuple(size)
    return Config(
        n=n, cin=cin, h=h, w=w, wcin=cin, cout_g=cout_g, kh=kh, kw=kw, groups=groups,
        bias_len=groups * cout_g if bias else None, stride=stride, padding=pad,
        output_padding=op, dilation=dilation, output_size=output_size,
        x_layout=pick(rng, ["contig", "contig", "nhwc", "perm", "slice", "flip", "bcast"]),
        w_layout=pick(rng, ["contig", "contig", "perm", "slice", "flip", "bcast"]),
        b_layout=pick(rng, ["contig", "contig", "slice", "flip", "bcast"]),
        y_layout=pick(rng, ["none", "none", "contig", "nhwc", "perm", "slice", "flip"]),
        threads=pick(rng, [None, None, 1, 2, 3]),
        data=pick(rng, ["normal", "normal", "normal", "wide", "int", "sparse"]),
        seed=seed)


def _edit(cfg, rng, kind):
    """Mutates cfg towards or past one validity boundary."""
    d = int(rng.integers(2))

    def setp(field, value):
        v = list(getattr(cfg, field))
        v[d] = value
        setattr(cfg, field, tuple(v))

    ks, ins = (cfg.kh, cfg.kw), (cfg.h, cfg.w)
    if kind == "stride_nonpositive":
        setp("stride", int(pick(rng, [0, -1])))
    elif kind == "dilation_nonpositive":
        setp("dilation", int(pick(rng, [0, -1])))
    elif kind == "padding_negative":
        setp("padding", -1)
    elif kind == "padding_boundary":  # output exactly 1, 0 or negative
        base = out_dim(ins[d], ks[d], cfg.stride[d], 0, cfg.dilation[d], cfg.output_padding[d])
        target = int(pick(rng, [1, 0, -1, 2]))
        if (base - target) % 2:
            target -= 1
        setp("padding", max(0, (base - target) // 2))
    elif kind == "output_padding_negative":
        setp("output_padding", -1)
    elif kind == "output_padding_boundary":  # rule: < stride or < dilation
        m = max(cfg.stride[d], cfg.dilation[d])
        setp("output_padding", int(pick(rng, [m - 1, m, m + 1])))
    elif kind == "groups_nondivisible":
        g = next((g for g in range(2, 9) if cfg.cin % g), None)
        if g is not None:
            cfg.groups = g
    elif kind == "groups_nonpositive":
        cfg.groups = int(pick(rng, [0, -1]))
    elif kind == "weight_cin_mismatch":
        cfg.wcin = cfg.cin + int(pick(rng, [1, -1] if cfg.cin > 1 else [1]))
    elif kind == "cout_zero":
        cfg.cout_g = 0
        cfg.bias_len = 0 if cfg.bias_len is not None else None
    elif kind == "kernel_zero":
        if d == 0:
            cfg.kh = 0
        else:
            cfg.kw = 0
    elif kind == "input_spatial_zero":
        if d == 0:
            cfg.h = 0
        else:
            cfg.w = 0
    elif kind == "input_channels_zero":
        cfg.cin = cfg.wcin = 0
    elif kind == "bias_mismatch":
        cout = max(cfg.groups, 1) * cfg.cout_g
        cfg.bias_len = cout + 1 if cout == 0 or rng.random() < 0.5 else cout - 1
    elif kind == "output_size_range":
        lo = [out_dim(ins[i], ks[i], cfg.stride[i], cfg.padding[i], cfg.dilation[i], 0)
              for i in range(2)]
        size = [max(v, 1) + int(rng.integers(max(cfg.stride[i], 1))) for i, v in enumerate(lo)]
        size[d] = int(pick(rng, [lo[d] - 1, lo[d] + cfg.stride[d], lo[d],
                                 lo[d] + cfg.stride[d] - 1]))
        cfg.output_size = tuple(size)
    elif kind == "output_size_length":
        cfg.output_size = tuple(int(v) for v in rng.integers(1, 9, int(pick(rng, [1, 3, 5]))))
    elif kind == "batch_zero":
        cfg.n = 0


EDIT_KINDS = ["stride_nonpositive", "dilation_nonpositive", "padding_negative",
              "padding_boundary", "padding_boundary", "output_padding_negative",
              "output_padding_boundary", "output_padding_boundary", "groups_nondivisible",
              "groups_nonpositive", "weight_cin_mismatch", "cout_zero", "kernel_zero",
              "input_spatial_zero", "input_channels_zero", "bias_mismatch",
              "output_size_range", "output_size_range", "output_size_length", "batch_zero"]


def random_edge_config(rng, seed):
    """A configuration at or past a validity boundary (often invalid)."""
    cfg = random_valid_config(rng, seed)
    cfg.x_layout = pick(rng, ["contig", "contig", "nhwc", "flip"])
    cfg.y_layout = "none"
    for _ in range(int(pick(rng, [1, 1, 1, 2]))):
        _edit(cfg, rng, pick(rng, EDIT_KINDS))
    if rng.random() < 0.25:
        _edit(cfg, rng, "batch_zero")
    return cfg


# ---------------------------------------------------------------- data and layouts

def random_values(rng, shape, kind):
    if kind == "int":  # exact in float32 and in every sum: the result must be exact
        return rng.integers(-3, 4, shape).astype(np.float32)
    v = rng.standard_normal(shape)
    if kind == "wide":  # wide dynamic range: cancellation, the bound scales with S
        v = v * np.exp2(rng.integers(-20, 21, shape))
    elif kind == "sparse":
        v = v * (rng.random(shape) < 0.3)
    return v.astype(np.float32)


def laid_out(rng, shape, kind, values_kind):
    """A float32 array of `shape` whose memory layout is `kind` (values random)."""
    nd = len(shape)
    if kind == "bcast" and nd > 0:  # stride 0 along one dim (the values repeat)
        d = int(rng.integers(nd))
        one = list(shape)
        one[d] = 1
        return np.broadcast_to(random_values(rng, tuple(one), values_kind), shape)
    vals = random_values(rng, shape, values_kind)
    if kind == "nhwc" and nd >= 3:  # channels last: C fastest
        perm = [0, 2, 3, 1] if nd == 4 else [1, 2, 0]
        return np.ascontiguousarray(vals.transpose(perm)).transpose(np.argsort(perm))
    if kind == "perm" and nd >= 2:
        perm = rng.permutation(nd)
        return np.ascontiguousarray(vals.transpose(perm)).transpose(np.argsort(perm))
    if kind == "slice":  # steps and offsets inside a NaN-filled buffer: reading it shows
        steps = rng.integers(1, 4, nd)
        offs = rng.integers(0, 3, nd)
        buf = np.full([int(o + s * max(n, 1) + 1) for o, s, n in zip(offs, steps, shape)],
                      np.nan, np.float32)
        view = buf[tuple(slice(int(o), int(o + s * n), int(s))
                         for o, s, n in zip(offs, steps, shape))]
        view[...] = vals
        return view
    if kind == "flip" and nd > 0:
        axes = tuple(d for d in range(nd) if rng.random() < 0.6) or (nd - 1,)
        return np.flip(np.flip(vals, axes).copy(), axes)
    return vals


class OutBuffer:
    """A caller-provided output view with memory around it to check."""

    def __init__(self, rng, shape, kind):
        nd = len(shape)
        self.mask = None
        if kind == "slice":
            steps = rng.integers(1, 3, nd)
            offs = rng.integers(0, 3, nd)
            self.buf = np.full([int(o + s * max(n, 1) + 1) for o, s, n in
                                zip(offs, steps, shape)], SENTINEL, np.float32)
            index = tuple(slice(int(o), int(o + s * n), int(s))
                          for o, s, n in zip(offs, steps, shape))
            self.view = self.buf[index]
            self.mask = np.ones(self.buf.shape, bool)
            self.mask[index] = False
        elif kind in ("nhwc", "perm") and nd >= 3:
            perm = ([0, 2, 3, 1] if nd == 4 else [1, 2, 0]) if kind == "nhwc" \
                else list(rng.permutation(nd))
            self.buf = np.empty([shape[p] for p in perm], np.float32)
            self.view = self.buf.transpose(np.argsort(perm))
        elif kind == "flip":
            self.buf = np.empty(shape, np.float32)
            self.view = self.buf[(slice(None, None, -1),) * nd]
        else:
            self.buf = np.empty(shape, np.float32)
            self.view = self.buf
        self.view[...] = np.nan  # every element must be written

    def untouched(self):
        return self.mask is None or bool(np.all(self.buf[self.mask] == SENTINEL))


def make_inputs(cfg):
    rng = np.random.default_rng(cfg.seed)
    x = laid_out(rng, cfg.x_shape(), cfg.x_layout, cfg.data)
    w = laid_out(rng, cfg.w_shape(), cfg.w_layout, cfg.data)
    b = None if cfg.bias_len is None else laid_out(rng, (cfg.bias_len,), cfg.b_layout,
                                                   cfg.data)
    return rng, x, w, b


# ---------------------------------------------------------------- PyTorch side

def torch_output_padding(cfg, xt):
    """What torch.nn.ConvTranspose2d.forward passes as output_padding."""
    if cfg.output_size is None:
        return list(cfg.output_padding)
    module = types.SimpleNamespace(output_padding=tuple(cfg.output_padding))
    return torch.nn.ConvTranspose2d._output_padding(
        module, xt, list(cfg.output_size), list(cfg.stride), list(cfg.padding),
        [cfg.kh, cfg.kw], 2, list(cfg.dilation))


def torch_run(cfg, x, w, b, absolute=False):
    """PyTorch's result in float64 (or of |x|, |w|, |b| for S). Raises what torch raises."""
    def t(a):  # contiguous: PyTorch 1.13 mishandles some strided weights with N=0
        a = np.ascontiguousarray(a, dtype=np.float64)
        return torch.from_numpy(np.abs(a) if absolute else a)
    xt = t(x)
    op = torch_output_padding(cfg, xt)
    return F.conv_transpose2d(xt, t(w), None if b is None else t(b), stride=cfg.stride,
                              padding=cfg.padding, output_padding=op, groups=cfg.groups,
                              dilation=cfg.dilation).numpy()


def torch_verdict(cfg, x, w, b):
    try:
        return True, torch_run(cfg, x, w, b)
    except Exception as exc:  # noqa: BLE001 - any rejection counts
        return False, exc


def numpy_oracle(cfg, x, w, b, output_padding):
    """An independent float64 scatter-add (a third opinion when tconv and torch differ)."""
    x = np.array(x, np.float64)
    w = np.array(w, np.float64)
    if cfg.n is None:
        x = x[None]
    n, cin, h, wd = x.shape
    cig, cog, g = cin // cfg.groups, cfg.cout_g, cfg.groups
    (sh, sw), (ph, pw), (dh, dw) = cfg.stride, cfg.padding, cfg.dilation
    ho = out_dim(h, cfg.kh, sh, ph, dh, output_padding[0])
    wo = out_dim(wd, cfg.kw, sw, pw, dw, output_padding[1])
    full = np.zeros((n, g * cog, max((h - 1) * sh + dh * (cfg.kh - 1) + 1, ho + ph),
                     max((wd - 1) * sw + dw * (cfg.kw - 1) + 1, wo + pw)))
    for gi in range(g):
        xg = x[:, gi * cig:(gi + 1) * cig]
        for ky in range(cfg.kh):
            for kx in range(cfg.kw):
                c = np.einsum("nchw,co->nohw", xg, w[gi * cig:(gi + 1) * cig, :, ky, kx])
                full[:, gi * cog:(gi + 1) * cog, ky * dh:ky * dh + (h - 1) * sh + 1:sh,
                     kx * dw:kx * dw + (wd - 1) * sw + 1:sw] += c
    y = full[:, :, ph:ph + ho, pw:pw + wo]
    if b is not None:
        y = y + np.array(b, np.float64)[None, :, None, None]
    return y[0] if cfg.n is None else y


# ---------------------------------------------------------------- checking

class Stats:
    def __init__(self):
        self.configs = 0
        self.valid = 0
        self.rejected_by_both = 0
        self.batch0_differences = 0
        self.runs = {}
        self.unsupported = {}
        self.worst_ratio = 0.0
        self.worst_ratio_where = ""
        self.max_rel = 0.0
        self.max_err_over_s = 0.0
        self.oracle_checks = 0
        self.worst_by_algorithm = {}
        self.current = None  # the configuration being checked


def _same_bits(a, b):
    return a.shape == b.shape and np.array_equal(np.asarray(a).view(np.uint32),
                                                 np.asarray(b).view(np.uint32))


def compare(y, exact, s_abs, k, stats, where):
    """None if y is within the bound of exact everywhere, else a description."""
    if y.shape != exact.shape:
        return "output shape %s, PyTorch %s" % (y.shape, exact.shape)
    if y.size == 0:
        return None
    yd = y.astype(np.float64)
    err = np.abs(yd - exact)
    tol = TOLERANCE_C * (k + 1) * U * s_abs
    bad = ~(err <= tol)  # NaN counts as bad
    ratio = np.where(tol > 0, err / np.where(tol > 0, tol, 1.0), np.where(err > 0, np.inf, 0))
    worst = float(np.nanmax(ratio)) if not np.isnan(ratio).all() else math.inf
    if np.isnan(yd).any():
        worst = math.inf
    if worst > stats.worst_ratio:
        stats.worst_ratio, stats.worst_ratio_where = worst, "%s, %r" % (where, stats.current)
    algo = where.split("algorithm=")[1].split()[0] if "algorithm=" in where else where
    stats.worst_by_algorithm[algo] = max(stats.worst_by_algorithm.get(algo, 0.0), worst)
    well_cond = (np.abs(exact) >= 1e-3 * s_abs) & (exact != 0)
    if well_cond.any():
        stats.max_rel = max(stats.max_rel, float(np.max(err[well_cond] /
                                                        np.abs(exact[well_cond]))))
    nz = s_abs > 0
    if nz.any():
        stats.max_err_over_s = max(stats.max_err_over_s, float(np.max(err[nz] / s_abs[nz])))
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        return ("%d of %d elements outside the bound; first at %s: tconv %r, exact %r, "
                "|diff| %.3g > tol %.3g (worst %.3g x tol)"
                % (int(bad.sum()), bad.size, idx, float(yd[idx]), float(exact[idx]),
                   float(err[idx]), float(tol[idx]), worst))
    return None


def algorithm_runs():
    """(algorithm, isa) pairs to run: every named algorithm at every ISA this CPU has
    (the reference only once: it is plain C whatever the ISA), and auto."""
    algos = tconv.algorithms()[1:]
    isa_names = tconv.isas()
    usable = isa_names[1:isa_names.index(tconv.isa()) + 1]
    runs = []
    for a in algos:
        runs += [(a, "auto")] if a == "reference" else [(a, i) for i in ["auto"] + usable]
    runs += [("auto", i) for i in ["auto"] + usable]
    return runs


def repro_line(cfg, algorithm=None):
    lib = os.environ.get("TCONV_LIBRARY", "build/src/libtconv.so")
    call = "t.check(t.%r%s)" % (cfg, "" if algorithm is None else ", algorithms=[%r]"
                                % algorithm)
    return ("REPRO: PYTHONPATH=python:python/tests TCONV_LIBRARY=%s /usr/bin/python3 -c "
            "\"import test_conformance as t; %s\"" % (lib, call))


def _tconv_call(cfg, x, w, b, algorithm, isa, out):
    return tconv.conv_transpose2d(x, w, b, output_size=cfg.output_size, algorithm=algorithm,
                                  isa=isa, threads=cfg.threads, out=out, return_report=True,
                                  **cfg.kwargs())


def check_valid(cfg, stats, only=None):
    """Runs a configuration PyTorch accepts through every algorithm; returns failures."""
    fails = []
    stats.current = cfg
    rng, x, w, b = make_inputs(cfg)
    copies = [None if a is None else np.array(a) for a in (x, w, b)]
    ok, exact = torch_verdict(cfg, x, w, b)
    if not ok:
        return ["PyTorch rejected a configuration generated as valid: %s" % exact]
    s_abs = torch_run(cfg, x, w, b, absolute=True)
    k = (cfg.cin // cfg.groups) * cfg.kh * cfg.kw
    if cfg.seed % 8 == 0 and exact.size:  # a third opinion on PyTorch itself
        stats.oracle_checks += 1
        xt = torch.from_numpy(np.array(x, np.float64))
        oracle = numpy_oracle(cfg, x, w, b, torch_output_padding(cfg, xt))
        if oracle.shape != exact.shape or not np.all(np.abs(oracle - exact) <= 1e-12 * (s_abs + 1)):
            fails.append("PyTorch and the numpy oracle disagree (suspect PyTorch)")

    for algorithm, isa in algorithm_runs():
        if only is not None and algorithm not in only:
            continue
        where = "one-shot algorithm=%s isa=%s" % (algorithm, isa)
        ob = None if cfg.y_layout == "none" else OutBuffer(rng, exact.shape, cfg.y_layout)
        stats.runs[algorithm] = stats.runs.get(algorithm, 0) + 1
        try:
            y, rep = _tconv_call(cfg, x, w, b, algorithm, isa, None if ob is None else ob.view)
        except NotImplementedError as exc:
            if algorithm in ("reference", "auto"):
                fails.append("%s: UNSUPPORTED is not allowed here: %s" % (where, exc))
            stats.unsupported[algorithm] = stats.unsupported.get(algorithm, 0) + 1
            continue
        except Exception as exc:  # noqa: BLE001
            fails.append("%s: rejected a configuration PyTorch accepts: %s: %s"
                         % (where, type(exc).__name__, exc))
            continue
        if ob is not None and y is not ob.view:
            fails.append("%s: out= was not returned" % where)
        if algorithm != "auto" and rep.algorithm != algorithm:
            fails.append("%s: report says %s ran" % (where, rep.algorithm))
        if algorithm == "auto" and rep.algorithm not in tconv.algorithms()[1:]:
            fails.append("%s: report names algorithm %r" % (where, rep.algorithm))
        msg = compare(y, exact, s_abs, k, stats, where)
        if msg:
            fails.append("%s: %s" % (where, msg))
        if ob is not None and not ob.untouched():
            fails.append("%s: memory around the sliced output was written" % where)

    # Plans, through the layer object: full batch, then a smaller one on the same plan.
    for algorithm in [a for a in tconv.algorithms()[1:] + ["auto"]
                      if only is None or a in only]:
        where = "plan algorithm=%s" % algorithm
        key = algorithm + " (plan)"
        stats.runs[key] = stats.runs.get(key, 0) + 1
        try:
            layer = tconv.ConvTranspose2d(
                cfg.cin, cfg.groups * cfg.cout_g, (cfg.kh, cfg.kw), stride=cfg.stride,
                padding=cfg.padding, output_padding=cfg.output_padding, groups=cfg.groups,
                bias=b is not None, dilation=cfg.dilation, algorithm=algorithm,
                threads=cfg.threads)
            layer.weight = w
            layer.bias = b
            with layer:
                ob = None if cfg.y_layout == "none" else OutBuffer(rng, exact.shape,
                                                                  cfg.y_layout)
                y = layer(x, output_size=cfg.output_size, out=None if ob is None else ob.view)
                msg = compare(y, exact, s_abs, k, stats, where)
                if msg:
                    fails.append("%s: %s" % (where, msg))
                if ob is not None and not ob.untouched():
                    fails.append("%s: memory around the sliced output was written" % where)
                if cfg.n is not None and cfg.n >= 2:
                    y2 = layer(x[1:], output_size=cfg.output_size)
                    msg = compare(y2, exact[1:], s_abs[1:], k, stats, where + " (N-1)")
                    if msg:
                        fails.append("%s (rerun with N-1): %s" % (where, msg))
        except NotImplementedError as exc:
            if algorithm in ("reference", "auto"):
                fails.append("%s: UNSUPPORTED is not allowed here: %s" % (where, exc))
            key = algorithm + " (plan)"
            stats.unsupported[key] = stats.unsupported.get(key, 0) + 1
        except Exception as exc:  # noqa: BLE001
            fails.append("%s: %s: %s" % (where, type(exc).__name__, exc))

    for name, a, c in zip(("input", "weight", "bias"), (x, w, b), copies):
        if a is not None and not _same_bits(a, c):
            fails.append("tconv modified the %s" % name)
    return fails


def _batch_one(cfg):
    one = dataclasses.replace(cfg, n=1)
    if one.output_size is not None and len(one.output_size) == 4:
        one.output_size = (1,) + tuple(one.output_size[1:])
    return one


def check_agreement(cfg, stats, numerics=True):
    """tconv accepts exactly what PyTorch accepts (batch 0: see the module doc), and
    then (numerics) computes the same values."""
    _, x, w, b = make_inputs(cfg)
    t_ok, t_res = torch_verdict(cfg, x, w, b)
    expected, ref = t_ok, t_res
    if cfg.n == 0:
        one = _batch_one(cfg)
        _, x1, w1, b1 = make_inputs(one)
        expected, ref = torch_verdict(one, x1, w1, b1)
        if expected != t_ok:
            stats.batch0_differences += 1
    try:
        y, _ = _tconv_call(cfg, x, w, b, "auto", "auto", None)
        c_ok, c_exc = True, None
    except Exception as exc:  # noqa: BLE001
        c_ok, c_exc = False, exc
    if c_ok != expected:
        if c_ok:
            return ["tconv accepted a configuration PyTorch rejects (%s: %s)"
                    % (type(ref).__name__, str(ref).splitlines()[0] if str(ref) else "")]
        return ["tconv rejected a configuration PyTorch accepts: %s: %s"
                % (type(c_exc).__name__, c_exc)]
    if not c_ok:
        stats.rejected_by_both += 1
        if not (isinstance(c_exc, tconv.TconvError) and isinstance(c_exc, ValueError)):
            return ["rejected with %s (%s), expected a ValueError/TconvError"
                    % (type(c_exc).__name__, c_exc)]
        return []
    want = (0,) + tuple(ref.shape[1:]) if cfg.n == 0 else ref.shape
    if y.shape != want:
        return ["output shape %s, expected %s" % (y.shape, want)]
    if not numerics:
        return []
    stats.valid += 1
    return check_valid(cfg, stats)


def output_size_variants(cfg, rng):
    """cfg with output_size at and one past each end of PyTorch's valid range
    [min, min + stride - 1] in one dimension (the other one valid)."""
    ins, ks = (cfg.h, cfg.w), (cfg.kh, cfg.kw)
    lo = [out_dim(ins[d], ks[d], cfg.stride[d], cfg.padding[d], cfg.dilation[d], 0)
          for d in range(2)]
    hi = [lo[d] + cfg.stride[d] - 1 for d in range(2)]
    out = []
    for d in range(2):
        for size in (lo[d] - 1, lo[d], hi[d], hi[d] + 1):
            other = int(rng.integers(max(lo[1 - d], 1), max(hi[1 - d], 1) + 1))
            pair = (size, other) if d == 0 else (other, size)
            out.append(dataclasses.replace(cfg, output_size=pair, x_layout="contig",
                                           w_layout="contig", b_layout="contig",
                                           y_layout="none"))
    return out


def check(cfg, algorithms=None):
    """Reproducer entry point: checks one configuration and prints what failed."""
    stats = Stats()
    fails = check_agreement(cfg, stats) if algorithms is None else \
        check_valid(cfg, stats, only=algorithms)
    for f in fails:
        print("FAIL:", f)
    print("%d failure(s); worst error %.3g x tolerance" % (len(fails), stats.worst_ratio))
    return not fails


# ---------------------------------------------------------------- the suite

def _settings():
    seed = int(os.environ.get("TCONV_CONFORMANCE_SEED", DEFAULT_SEED))
    n = int(os.environ.get("TCONV_CONFORMANCE_N", 2000))
    return seed, n


class Conformance(unittest.TestCase):
    stats = Stats()

    @classmethod
    def setUpClass(cls):
        if torch is None:
            raise AssertionError(
                "PyTorch is required for the conformance suite and could not be imported "
                "(%s). Install it: apt-get install python3-torch (run this suite with "
                "/usr/bin/python3)." % TORCH_ERROR)
        torch.set_num_threads(1)
        seed, n = _settings()
        print("\ntconv %s from %s; algorithms %s; ISA %s"
              % (tconv.version(), tconv.library_path(), tconv.algorithms(), tconv.isa()))
        print("seed %d (TCONV_CONFORMANCE_SEED), %d random configurations "
              "(TCONV_CONFORMANCE_N), tolerance C=%g" % (seed, n, TOLERANCE_C))
        sys.stdout.flush()

    def _run(self, label, configs, checker):
        failures = []
        t0 = time.time()
        for cfg in configs:
            self.stats.configs += 1
            try:
                fails = checker(cfg, self.stats)
            except Exception as exc:  # noqa: BLE001 - a crash in one config is a failure
                fails = ["suite error %s: %s" % (type(exc).__name__, exc)]
            if fails:
                failures.append(cfg)
                if len(failures) <= MAX_PRINTED_FAILURES:
                    print("FAIL %s: %r" % (label, cfg))
                    for f in fails[:4]:
                        print("    " + f)
                    print("    " + repro_line(cfg))
                    sys.stdout.flush()
        print("%s: %d configurations, %d failed, %.1f s"
              % (label, len(configs), len(failures), time.time() - t0))
        sys.stdout.flush()
        self.assertEqual(len(failures), 0, "%d %s configurations failed (see REPRO lines)"
                         % (len(failures), label))

    def test_1_random_valid(self):
        seed, n = _settings()
        rng = np.random.default_rng(seed)
        configs = [random_valid_config(rng, seed * 1000003 + i) for i in range(n)]
        self._run("random", configs, check_agreement)

    def test_2_boundaries_and_invalid(self):
        seed, n = _settings()
        rng = np.random.default_rng(seed + 1)
        configs = [random_edge_config(rng, (seed + 1) * 1000003 + i)
                   for i in range(max(200, n * 2 // 5))]
        self._run("boundary", configs, check_agreement)

    def test_3_output_size_boundaries(self):
        seed, n = _settings()
        rng = np.random.default_rng(seed + 2)
        configs = []
        for i in range(max(50, n // 8)):
            cfg = random_valid_config(rng, (seed + 2) * 1000003 + i)
            configs += output_size_variants(cfg, rng)
        self._run("output_size", configs,
                  lambda c, st: check_agreement(c, st, numerics=False))

    def test_4_targeted(self):
        def cfg(**kw):
            base = dict(n=2, cin=4, h=5, w=5, wcin=4, cout_g=3, kh=4, kw=4, groups=1,
                        bias_len=3, stride=(2, 2), padding=(1, 1), output_padding=(0, 0),
                        dilation=(1, 1), seed=len(targets) + 1)
            base.update(kw)
            return Config(**base)
        targets = []
        targets.append(cfg())                                            # DCGAN layer
        targets.append(cfg(output_padding=(2, 1), dilation=(3, 2), stride=(1, 1)))  # op<d
        targets.append(cfg(kh=1, kw=1, stride=(3, 4), padding=(0, 0)))   # holes: bias only
        targets.append(cfg(n=None, output_size=(3, 10, 11)))             # unbatched, full
        targets.append(cfg(output_size=(2, 3, 11, 11)))                  # full shape
        targets.append(cfg(n=0))                                         # empty batch
        targets.append(cfg(groups=4, cout_g=2, bias_len=8, kh=3, kw=5))  # depthwise x2
        targets.append(cfg(padding=(4, 3), kh=3, kw=3, h=7, w=6))        # pad > d*(k-1)
        targets.append(cfg(output_padding=(1, 2), stride=(2, 3), y_layout="slice",
                           x_layout="nhwc", w_layout="perm"))
        targets.append(cfg(n=1, h=1, w=1, kh=7, kw=7, dilation=(3, 3), padding=(9, 9)))
        self._run("targeted", targets, check_agreement)

    @classmethod
    def tearDownClass(cls):
        s = cls.stats
        if not s.configs:
            return
        print("\nsummary: %d configurations (%d run numerically, %d rejected by both, "
              "%d batch-0 verdicts that differ from PyTorch's on purpose), %d PyTorch "
              "cross-checks against a numpy oracle"
              % (s.configs, s.valid, s.rejected_by_both, s.batch0_differences,
                 s.oracle_checks))
        for a in sorted(s.runs):
            print("  %-18s %6d runs, %6d UNSUPPORTED, worst error %.3g x tolerance"
                  % (a, s.runs[a], s.unsupported.get(a, 0),
                     s.worst_by_algorithm.get(a.replace(" (plan)", ""), 0.0)))
        print("  worst error %.3g x tolerance; max relative error %.3g (elements with "
              "|exact| >= 1e-3 S); max |error|/S %.3g\n  worst at %s"
              % (s.worst_ratio, s.max_rel, s.max_err_over_s, s.worst_ratio_where))
        sys.stdout.flush()


if __name__ == "__main__":
    unittest.main(verbosity=2)
