#!/usr/bin/env python3
"""Tests of the Python package itself (numpy only, no torch): loading, struct layouts,
errors and their messages, dtypes, strided views, out=, unbatched input, the
ConvTranspose2d class and its plan, threads.

Run: PYTHONPATH=python TCONV_LIBRARY=build/src/libtconv.so python3 python/tests/test_api.py
(or `meson test -C build --suite ffi`).
"""
import ctypes
import gc
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import tracemalloc
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
PYDIR = os.path.dirname(HERE)
sys.path.insert(0, PYDIR)

import tconv  # noqa: E402
from tconv import _capi, errors  # noqa: E402
from tconv.functional import _view  # noqa: E402

F32 = np.float32


def oracle(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Plain float64 scatter-add, written from the definition (independent of tconv)."""
    def pair(v):
        return (v, v) if isinstance(v, int) else tuple(v)
    (sh, sw), (ph, pw), (oph, opw), (dh, dw) = map(pair, (stride, padding, output_padding,
                                                          dilation))
    unbatched = x.ndim == 3
    x = np.asarray(x, np.float64)[None] if unbatched else np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    n, cin, h, wd = x.shape
    _, cog, kh, kw = w.shape
    cig = cin // groups
    ho = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    wo = (wd - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    y = np.zeros((n, groups * cog, ho, wo))
    if b is not None:
        y += np.asarray(b, np.float64)[None, :, None, None]
    for ci in range(cin):
        g = ci // cig
        for iy in range(h):
            for ix in range(wd):
                for ky in range(kh):
                    oy = iy * sh - ph + ky * dh
                    if not 0 <= oy < ho:
                        continue
                    for kx in range(kw):
                        ox = ix * sw - pw + kx * dw
                        if 0 <= ox < wo:
                            y[:, g * cog:(g + 1) * cog, oy, ox] += \
                                x[:, ci, iy, ix, None] * w[ci, :, ky, kx]
    return y[0] if unbatched else y


def assert_close(test, y, ref, k):
    ref = np.asarray(ref, np.float64)
    test.assertEqual(y.shape, ref.shape)
    scale = np.abs(ref).max() + 1.0
    test.assertLessEqual(float(np.abs(y - ref).max()) if y.size else 0.0,
                         4 * (k + 1) * 2.0 ** -24 * scale * 8)


def data(rng, *shape):
    return rng.standard_normal(shape).astype(F32)


def run_python(code, env_extra=None, env_drop=(), cwd=None):
    env = dict(os.environ)
    for k in env_drop:
        env.pop(k, None)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120, check=False)


class Library(unittest.TestCase):
    def test_version_and_names(self):
        v = tconv.version()
        self.assertRegex(v, r"^\d+\.\d+\.\d+$")
        major, minor, patch = map(int, v.split("."))
        self.assertEqual(tconv.version_number(), major * 10000 + minor * 100 + patch)
        self.assertEqual(major, _capi.ABI_MAJOR)
        algos = tconv.algorithms()
        self.assertEqual(algos[:2], ["auto", "reference"])
        self.assertEqual(tconv.isas()[:2], ["auto", "scalar"])
        self.assertIn(tconv.isa(), tconv.isas()[1:])
        self.assertTrue(os.path.exists(tconv.library_path())
                        or "/" not in tconv.library_path())
        self.assertTrue(tconv.status_string(3).startswith("TCONV_ERR_SHAPE_MISMATCH"))

    def test_two_line_import_from_build_tree(self):
        env = {"PYTHONPATH": PYDIR}
        if os.environ.get("TCONV_LIBRARY"):  # the library under test, from another cwd
            env["TCONV_LIBRARY"] = os.path.abspath(os.environ["TCONV_LIBRARY"])
        res = run_python("import tconv; print(tconv.version())", env,
                         cwd=tempfile.gettempdir())
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(res.stdout.strip(), tconv.version())

    def test_bad_tconv_library_is_a_clear_error(self):
        res = run_python("import tconv\ntry:\n    tconv.version()\nexcept tconv.LibraryNotFoundError"
                         " as e:\n    print('ERR', isinstance(e, OSError), e)",
                         {"PYTHONPATH": PYDIR, "TCONV_LIBRARY": "/nonexistent/libtconv.so"})
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("ERR True TCONV_LIBRARY=/nonexistent/libtconv.so could not be loaded",
                      res.stdout)

    def test_search_order_is_listed_when_nothing_is_found(self):
        # A copy of the package outside the repository: no build tree next to it.
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copytree(os.path.join(PYDIR, "tconv"), os.path.join(tmp, "tconv"),
                            ignore=shutil.ignore_patterns("__pycache__"))
            res = run_python("import tconv\ntry:\n    print('FOUND', tconv.library_path())\n"
                             "except tconv.LibraryNotFoundError as e:\n    print(e)",
                             {"PYTHONPATH": tmp, "PKG_CONFIG_PATH": tmp,
                              "LD_LIBRARY_PATH": ""}, env_drop=("TCONV_LIBRARY",), cwd=tmp)
        self.assertEqual(res.returncode, 0, res.stderr)
        if res.stdout.startswith("FOUND"):
            self.skipTest("a system-wide libtconv is installed: " + res.stdout.strip())
        for what in ("TCONV_LIBRARY: not set", "build tree: no", "find_library('tconv')",
                     "pkg-config", "set TCONV_LIBRARY"):
            self.assertIn(what, res.stdout)

    @unittest.skipUnless(ctypes.sizeof(ctypes.c_void_p) == 8, "layouts are for LP64")
    def test_struct_layouts_lp64(self):
        # The numbers documented in docs/FFI.md (offsetof from a C program).
        expect = {
            _capi.Tensor: (96, {"data": 0, "dtype": 8, "rank": 12, "shape": 16, "stride": 48,
                                "reserved": 80}),
            _capi.Params: (128, {"stride": 0, "padding": 16, "output_padding": 32,
                                 "dilation": 48, "groups": 64, "reserved": 72}),
            _capi.Allocator: (24, {"alloc": 0, "free": 8, "ctx": 16}),
            _capi.Exec: (104, {"algorithm": 0, "isa": 4, "num_threads": 8, "flags": 12,
                               "workspace": 16, "workspace_size": 24, "allocator": 32,
                               "parallel_for": 40, "parallel_ctx": 48, "reserved": 56}),
            _capi.Report: (64, {"algorithm": 0, "isa": 4, "num_threads": 8, "reserved0": 12,
                                "workspace_bytes": 16, "reason": 24, "reserved": 32}),
        }
        for cls, (size, offsets) in expect.items():
            self.assertEqual(ctypes.sizeof(cls), size, cls.__name__)
            self.assertEqual(ctypes.alignment(cls), 8, cls.__name__)
            for field, off in offsets.items():
                self.assertEqual(getattr(cls, field).offset, off, "%s.%s" % (cls.__name__,
                                                                            field))
        self.assertEqual(ctypes.sizeof(_capi.Tensor), _capi.LP64_SIZES["tconv_tensor"])

    def test_struct_returning_helpers(self):
        lib = _capi.lib()
        buf = ctypes.c_float()
        t = lib.tconv_tensor_nchw(ctypes.addressof(buf), 2, 3, 4, 5)
        self.assertEqual((t.data, t.dtype, t.rank), (ctypes.addressof(buf), 1, 4))
        self.assertEqual(list(t.shape), [2, 3, 4, 5])
        self.assertEqual(list(t.stride), [60, 20, 5, 1])
        self.assertEqual(list(t.reserved), [0, 0])
        t = lib.tconv_tensor_nhwc(None, 2, 3, 4, 5)
        self.assertEqual(list(t.stride), [60, 1, 15, 3])
        t = lib.tconv_tensor_chw(None, 3, 4, 5)
        self.assertEqual((t.rank, list(t.shape)[:3], list(t.stride)[:3]), (3, [3, 4, 5],
                                                                         [20, 5, 1]))
        t = lib.tconv_tensor_1d(None, 7)
        self.assertEqual((t.rank, t.shape[0], t.stride[0]), (1, 7, 1))
        p = lib.tconv_params_default()
        self.assertEqual((list(p.stride), list(p.padding), list(p.output_padding),
                          list(p.dilation), p.groups, list(p.reserved)),
                         ([1, 1], [0, 0], [0, 0], [1, 1], 1, [0] * 7))
        e = lib.tconv_exec_default()
        self.assertEqual((e.algorithm, e.isa, e.num_threads, e.flags, e.workspace,
                          e.workspace_size, bool(e.allocator), e.parallel_ctx,
                          list(e.reserved)), (0, 0, 0, 0, None, 0, False, None, [0] * 6))

    def test_view_is_the_array_memory(self):
        base = np.zeros((3, 8, 10, 12), F32)
        v = base[::2, ::-1, 1::3, ::4].transpose(0, 2, 3, 1)
        t = _view("x", v)
        self.assertEqual(t.data, v.ctypes.data)
        self.assertEqual(list(t.shape), list(v.shape))
        self.assertEqual(list(t.stride), [s // 4 for s in v.strides])


class Errors(unittest.TestCase):
    def setUp(self):
        rng = np.random.default_rng(1)
        self.x = data(rng, 1, 2, 3, 3)
        self.w = data(rng, 2, 3, 2, 2)

    def raises(self, cls, status, text, fn, *a, **kw):
        with self.assertRaises(cls) as cm:
            fn(*a, **kw)
        e = cm.exception
        self.assertIsInstance(e, tconv.TconvError)
        self.assertEqual(e.status, status)
        if text:
            self.assertIn(text, str(e))
        return e

    def test_output_padding_rule_message(self):
        e = self.raises(ValueError, tconv.Status.ERR_INVALID_ARGUMENT,
                        "output_padding[0]=2 must be smaller than stride[0]=2 or dilation[0]=1",
                        tconv.conv_transpose2d, self.x, self.w, stride=2, output_padding=2)
        self.assertIsInstance(e, tconv.TconvValueError)
        self.assertEqual(e.status_name, "TCONV_ERR_INVALID_ARGUMENT")
        self.assertIn("[TCONV_ERR_INVALID_ARGUMENT]", str(e))

    def test_shape_mismatch_messages(self):
        self.raises(ValueError, tconv.Status.ERR_SHAPE_MISMATCH,
                    "weight.shape[0]=3 must equal the input channels Cin=2",
                    tconv.conv_transpose2d, self.x, np.zeros((3, 3, 2, 2), F32))
        self.raises(ValueError, tconv.Status.ERR_SHAPE_MISMATCH, "bias.shape[0]=4",
                    tconv.conv_transpose2d, self.x, self.w, np.zeros(4, F32))
        self.raises(ValueError, tconv.Status.ERR_SHAPE_MISMATCH, "output.shape[",
                    tconv.conv_transpose2d, self.x, self.w, out=np.zeros((1, 3, 4, 5), F32))

    def test_other_rules(self):
        self.raises(ValueError, tconv.Status.ERR_INVALID_ARGUMENT, "stride[1]=0 must be >= 1",
                    tconv.conv_transpose2d, self.x, self.w, stride=(1, 0))
        self.raises(ValueError, tconv.Status.ERR_INVALID_ARGUMENT, "divisible by groups=2",
                    tconv.conv_transpose2d, np.zeros((1, 3, 3, 3), F32),
                    np.zeros((3, 1, 2, 2), F32), groups=2)
        self.raises(ValueError, tconv.Status.ERR_INVALID_ARGUMENT, "must be >= 1",
                    tconv.conv_transpose2d, self.x, self.w, padding=2)
        self.raises(ValueError, tconv.Status.ERR_INVALID_ARGUMENT,
                    "exec.num_threads=-1 must be >= 0",
                    tconv.conv_transpose2d, self.x, self.w, threads=-1)
        self.raises(ValueError, tconv.Status.ERR_INVALID_ARGUMENT, "exec.algorithm=99",
                    tconv.conv_transpose2d, self.x, self.w, algorithm=99)
        self.raises(ValueError, tconv.Status.ERR_INVALID_ARGUMENT, "input.rank=2",
                    tconv.conv_transpose2d, np.zeros((2, 3), F32), self.w)
        self.raises(ValueError, None, "input.rank=5",
                    tconv.conv_transpose2d, np.zeros((1, 1, 2, 3, 3), F32), self.w)

    def test_aliasing(self):
        x = np.ones((1, 2, 3, 3), F32)
        w = np.ones((2, 2, 1, 1), F32)
        self.raises(ValueError, tconv.Status.ERR_ALIASING, "overlaps input",
                    tconv.conv_transpose2d, x, w, out=x)
        out = np.lib.stride_tricks.as_strided(np.zeros(64, F32), (1, 2, 3, 3), (0, 4, 4, 4))
        self.raises(ValueError, tconv.Status.ERR_ALIASING, "share memory",
                    tconv.conv_transpose2d, x, w, out=out)

    def test_wrapper_side_errors(self):
        with self.assertRaises(TypeError) as cm:
            tconv.conv_transpose2d(self.x, self.w, stride="2")
        self.assertIsInstance(cm.exception, tconv.TconvError)
        self.assertIsNone(cm.exception.status)
        with self.assertRaises(TypeError):
            tconv.conv_transpose2d(self.x, self.w, padding=(1, 2, 3))
        with self.assertRaises(ValueError) as cm:
            tconv.conv_transpose2d(self.x, self.w, algorithm="fastest")
        self.assertIn("reference", str(cm.exception))
        with self.assertRaises(ValueError) as cm:
            tconv.conv_transpose2d(self.x, self.w, output_size=(1, 2, 3))
        self.assertIn("output_size must have 2 or 4 elements (got 3)", str(cm.exception))
        self.raises(ValueError, tconv.Status.ERR_INVALID_ARGUMENT,
                    "requested output_size[0]=9, but valid sizes range from 6 to 7",
                    tconv.conv_transpose2d, self.x, self.w, stride=2, output_size=(9, 4))

    def test_unsupported_is_not_implemented_error(self):
        # A deterministic UNSUPPORTED: an ISA above what the library may use.
        code = ("import tconv, numpy as np\n"
                "x = np.zeros((1, 1, 2, 2), np.float32); w = np.zeros((1, 1, 2, 2), np.float32)\n"
                "try:\n    tconv.conv_transpose2d(x, w, isa='avx2')\n"
                "except NotImplementedError as e:\n"
                "    print('UNSUPPORTED', isinstance(e, tconv.TconvError), e.status, e)\n")
        res = run_python(code, {"PYTHONPATH": PYDIR, "TCONV_ISA": "scalar"})
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("UNSUPPORTED True 6", res.stdout)
        self.assertIn("exec.isa=avx2 is not available", res.stdout)

    def test_status_to_exception_mapping(self):
        S = tconv.Status
        table = {S.ERR_NULL_POINTER: ValueError, S.ERR_INVALID_ARGUMENT: ValueError,
                 S.ERR_SHAPE_MISMATCH: ValueError, S.ERR_SIZE_OVERFLOW: ValueError,
                 S.ERR_ALIASING: ValueError, S.ERR_UNSUPPORTED: NotImplementedError,
                 S.ERR_OUT_OF_MEMORY: MemoryError, S.ERR_WORKSPACE_TOO_SMALL: RuntimeError,
                 S.ERR_SYSTEM: RuntimeError, 99: RuntimeError}
        for status, cls in table.items():
            e = errors.error_for_status(status, "msg")
            self.assertIsInstance(e, cls)
            self.assertIsInstance(e, tconv.TconvError)
            self.assertEqual(e.status, status)
            self.assertIn("msg", str(e))
        # status values are ABI: the header's numbering
        self.assertEqual([int(s) for s in S], list(range(10)))

    def test_error_messages_are_per_thread(self):
        bad = []

        def worker(valid):
            for _ in range(200):
                try:
                    tconv.conv_transpose2d(self.x, self.w, stride=1 if valid else 0,
                                           threads=1)
                    if not valid:
                        bad.append("accepted")
                except ValueError as e:
                    if valid or "stride[0]=0 must be >= 1" not in str(e):
                        bad.append(str(e))
        ts = [threading.Thread(target=worker, args=(i % 2 == 0,)) for i in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(bad, [])


class Arrays(unittest.TestCase):
    def setUp(self):
        rng = np.random.default_rng(2)
        self.x = data(rng, 2, 4, 5, 6)
        self.w = data(rng, 4, 3, 3, 4)
        self.b = data(rng, 3)
        self.kw = dict(stride=(2, 1), padding=(1, 2), output_padding=(1, 0), dilation=(1, 2))
        self.ref = oracle(self.x, self.w, self.b, **self.kw)
        self.k = 4 * 3 * 4

    def test_basic_and_report(self):
        y, rep = tconv.conv_transpose2d(self.x, self.w, self.b, return_report=True, **self.kw)
        assert_close(self, y, self.ref, self.k)
        self.assertEqual(y.dtype, F32)
        self.assertTrue(y.flags.c_contiguous)
        self.assertIsInstance(rep, tconv.Report)
        self.assertIn(rep.algorithm, tconv.algorithms()[1:])
        self.assertEqual(tconv.algorithms()[rep.algorithm_id], rep.algorithm)
        self.assertIn(rep.isa, tconv.isas()[1:])
        self.assertTrue(rep.reason)
        y2, rep2 = tconv.conv_transpose2d(self.x, self.w, self.b, algorithm="reference",
                                          return_report=True, **self.kw)
        self.assertEqual((rep2.algorithm, rep2.isa), ("reference", "scalar"))
        self.assertEqual(rep2.reason, "requested by the caller")

    def test_dtypes(self):
        x64 = self.x.astype(np.float64)
        with self.assertRaises(TypeError) as cm:
            tconv.conv_transpose2d(x64, self.w, self.b, **self.kw)
        self.assertIn("cast=True", str(cm.exception))
        self.assertIsInstance(cm.exception, tconv.TconvTypeError)
        y = tconv.conv_transpose2d(x64, self.w.astype(np.float16), self.b.tolist(), cast=True,
                                   **self.kw)
        ref16 = oracle(self.x, self.w.astype(np.float16), self.b, **self.kw)
        assert_close(self, y, ref16, self.k)
        with self.assertRaises(TypeError):  # non-native byte order is not float32
            tconv.conv_transpose2d(self.x.astype(">f4"), self.w)
        y = tconv.conv_transpose2d(self.x.astype(">f4"), self.w, self.b, cast=True, **self.kw)
        assert_close(self, y, self.ref, self.k)
        with self.assertRaises(TypeError):
            tconv.conv_transpose2d(self.x.astype(np.int32), self.w)
        with self.assertRaises(TypeError):  # out is never cast
            tconv.conv_transpose2d(self.x, self.w, out=np.zeros((2, 3, 7, 9)), cast=True)

    def test_byte_strides_not_multiple_of_4(self):
        raw = np.zeros(4 * 4 * 5 * 6 * 5 + 16, np.uint8)
        x = np.ndarray((1, 4, 5, 6), F32, raw, 1, (600, 150, 30, 5))  # 5-byte steps
        x[...] = self.x[:1]
        with self.assertRaises(ValueError) as cm:
            tconv.conv_transpose2d(x, self.w, **self.kw)
        self.assertIn("not all multiples of 4", str(cm.exception))
        y = tconv.conv_transpose2d(x, self.w, self.b, cast=True, **self.kw)
        assert_close(self, y, self.ref[:1], self.k)

    def test_strided_inputs_are_views(self):
        variants = {
            "channels-last": np.ascontiguousarray(self.x.transpose(0, 2, 3, 1)).transpose(
                0, 3, 1, 2),
            "negative strides": self.x[:, ::-1, ::-1].copy()[:, ::-1, ::-1],
            "slice": np.pad(self.x, 2, constant_values=np.nan)[2:-2, 2:-2, 2:-2, 2:-2],
        }
        for name, x in variants.items():
            self.assertFalse(x.flags.c_contiguous, name)
            y = tconv.conv_transpose2d(x, self.w[:, :, ::-1, :].copy()[:, :, ::-1, :],
                                       self.b, **self.kw)
            assert_close(self, y, self.ref, self.k)

    def test_no_copy_of_a_huge_broadcast_input(self):
        # 64 MiB of logical input backed by 4 bytes: a copy would show in tracemalloc.
        x = np.broadcast_to(np.ones((1, 1, 1, 1), F32), (1, 16, 1024, 1024))
        w = np.ones((16, 1, 1, 1), F32)
        out = np.empty((1, 1, 1024, 1024), F32)
        tracemalloc.start()
        try:
            tconv.conv_transpose2d(x, w, out=out, threads=1)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        self.assertLess(peak, 8 << 20)
        self.assertTrue(np.all(out == 16.0))

    def test_out_non_contiguous_receives_results(self):
        full = np.full((2, 7, 11, 12), 7.0, F32)  # Hout=11, Wout=12, Cout=3 (+ margins)
        shapes = self.ref.shape
        out = full[:, 1:4, :shapes[2], :shapes[3]]
        y = tconv.conv_transpose2d(self.x, self.w, self.b, out=out, **self.kw)
        self.assertIs(y, out)
        assert_close(self, out, self.ref, self.k)
        mask = np.ones(full.shape, bool)
        mask[:, 1:4, :shapes[2], :shapes[3]] = False
        self.assertTrue(np.all(full[mask] == 7.0), "memory around out was written")
        nhwc = np.empty((2, shapes[2], shapes[3], 3), F32)
        out = nhwc.transpose(0, 3, 1, 2)
        tconv.conv_transpose2d(self.x, self.w, self.b, out=out, **self.kw)
        assert_close(self, out, self.ref, self.k)
        flipped = np.empty(shapes, F32)[:, ::-1, ::-1, ::-1]
        tconv.conv_transpose2d(self.x, self.w, self.b, out=flipped, **self.kw)
        assert_close(self, flipped, self.ref, self.k)
        with self.assertRaises(ValueError):
            ro = np.empty(shapes, F32)
            ro.flags.writeable = False
            tconv.conv_transpose2d(self.x, self.w, self.b, out=ro, **self.kw)

    def test_unbatched_and_output_size(self):
        y = tconv.conv_transpose2d(self.x[1], self.w, self.b, **self.kw)
        self.assertEqual(y.ndim, 3)
        assert_close(self, y, self.ref[1], self.k)
        kw = dict(self.kw, output_padding=0)
        h, w = self.ref.shape[2:]
        for size in [(h, w), (3, h, w)]:
            y = tconv.conv_transpose2d(self.x[0], self.w, self.b, output_size=size, **kw)
            assert_close(self, y, self.ref[0], self.k)
        y = tconv.conv_transpose2d(self.x, self.w, self.b, output_size=(2, 3, h, w), **kw)
        assert_close(self, y, self.ref, self.k)
        e = tconv.conv_transpose2d(np.zeros((0, 4, 5, 6), F32), self.w, **self.kw)
        self.assertEqual(e.shape, (0,) + self.ref.shape[1:])

    def test_threads(self):
        for threads in (None, 1, 2, 3):
            y, rep = tconv.conv_transpose2d(self.x, self.w, self.b, threads=threads,
                                            return_report=True, **self.kw)
            assert_close(self, y, self.ref, self.k)
            if threads is not None:
                self.assertLessEqual(rep.num_threads, threads)
            self.assertGreaterEqual(rep.num_threads, 1)
        _, rep = tconv.conv_transpose2d(self.x, self.w, threads=1, return_report=True)
        self.assertEqual(rep.num_threads, 1)


class Layer(unittest.TestCase):
    def setUp(self):
        rng = np.random.default_rng(3)
        self.x = data(rng, 3, 4, 5, 5)
        self.layer = tconv.ConvTranspose2d(4, 6, 4, stride=2, padding=1, groups=2, rng=7)

    def tearDown(self):
        self.layer.close()

    def ref(self, x, **kw):
        m = self.layer
        return oracle(x, m.weight, m.bias, stride=m.stride, padding=m.padding,
                      output_padding=kw.get("output_padding", m.output_padding),
                      groups=m.groups, dilation=m.dilation)

    def test_parameters_like_pytorch(self):
        m = self.layer
        self.assertEqual(m.weight.shape, (4, 3, 4, 4))
        self.assertEqual(m.bias.shape, (6,))
        bound = 1 / np.sqrt(3 * 16)
        self.assertLessEqual(np.abs(m.weight).max(), bound)
        self.assertEqual(m.weight.dtype, F32)
        self.assertIsNone(tconv.ConvTranspose2d(2, 2, 1, bias=False).bias)
        with self.assertRaises(ValueError):
            tconv.ConvTranspose2d(3, 4, 3, groups=2)
        with self.assertRaises(ValueError):
            tconv.ConvTranspose2d(4, 4, 3, padding_mode="reflect")
        with self.assertRaises(ValueError):
            m.weight = np.zeros((4, 6, 4, 4), F32)
        with self.assertRaises(TypeError):
            m.weight = np.zeros((4, 3, 4, 4))

    def test_plan_lifecycle(self):
        m = self.layer
        self.assertIsNone(m.plan_info())
        y = m(self.x)
        assert_close(self, y, self.ref(self.x), 2 * 16)
        info = m.plan_info()
        self.assertIn(info.algorithm, tconv.algorithms()[1:])
        self.assertEqual(m.last_report.algorithm, info.algorithm)
        plan = m._plan
        y = m(self.x[:2])                      # smaller batch: same plan
        self.assertEqual(m._plan, plan)
        assert_close(self, y, self.ref(self.x[:2]), 2 * 16)
        y = m(self.x[0])                       # unbatched: same plan
        self.assertEqual(m._plan, plan)
        assert_close(self, y, self.ref(self.x[0]), 2 * 16)
        x5 = np.concatenate([self.x, self.x[:2]])
        y = m(x5)                              # bigger batch: a new plan
        assert_close(self, y, self.ref(x5), 2 * 16)
        self.assertEqual(m._plan_n, 5)
        m.weight = np.ones_like(m.weight)      # assignment: replanned
        assert_close(self, m(self.x), self.ref(self.x), 2 * 16)
        m.weight[0, 0, 0, 0] = 5.0             # in place: detected
        assert_close(self, m(self.x), self.ref(self.x), 2 * 16)
        m.bias = None
        assert_close(self, m(self.x), self.ref(self.x), 2 * 16)
        xs = np.zeros((3, 4, 6, 5), F32)        # another H: replanned
        assert_close(self, m(xs), self.ref(xs), 2 * 16)
        m.close()
        self.assertIsNone(m._plan)
        self.assertIsNone(m.plan_info())
        assert_close(self, m(self.x), self.ref(self.x), 2 * 16)  # usable after close

    def test_output_size_out_and_threads(self):
        m = self.layer
        y = m(self.x, output_size=(11, 10))
        self.assertEqual(y.shape, (3, 6, 11, 10))
        assert_close(self, y, self.ref(self.x, output_padding=(1, 0)), 2 * 16)
        out = np.empty((3, 10, 10, 6), F32).transpose(0, 3, 1, 2)
        y = m(self.x, out=out, threads=1)
        self.assertIs(y, out)
        self.assertEqual(m.last_report.num_threads, 1)
        assert_close(self, out, self.ref(self.x), 2 * 16)
        with self.assertRaises(ValueError):
            m(self.x, out=np.empty((6, 10, 10), F32))
        with self.assertRaises(ValueError) as cm:
            m(np.zeros((1, 3, 5, 5), F32))
        self.assertIn("Cin=3", str(cm.exception))

    def test_context_manager_and_del(self):
        with tconv.ConvTranspose2d(2, 2, 3, algorithm="reference") as m:
            m(np.ones((1, 2, 3, 3), F32))
            self.assertIsNotNone(m._plan)
            self.assertEqual(m.last_report.algorithm, "reference")
        self.assertIsNone(m._plan)
        for _ in range(50):  # __del__ frees plans; must not crash or leak handles
            m = tconv.ConvTranspose2d(2, 2, 3)
            m(np.ones((1, 2, 3, 3), F32))
            del m
        gc.collect()


if __name__ == "__main__":
    unittest.main(verbosity=2)
