#!/usr/bin/env python3
# make_corpus.py - writes the seed corpus of fuzz/fuzz_convtranspose2d.c into
# fuzz/corpus/ (or the directory given as the first argument).
#
# Each seed names one situation the fuzzer should start from: ordinary valid problems
# in every layout, and one hostile mutation at a time (see the list at the bottom).
# The byte layout mirrors decode() and apply_mutations() in fuzz_convtranspose2d.c:
#
#   0   flags A: bit0 bias, bit1 unbatched (rank 3), bits2-3 allocator (0/1 counting,
#       2 C library, 3 counting that fails request #k), bit4 parallel-for hook,
#       bit5 TCONV_FLAG_NO_ALLOC, bits6-7 caller workspace (0 none, 1 exact size,
#       2 half size, 3 exact size at a misaligned address)
#   1   flags B: bits0-2 k (failing request), bits3-4 thread/ISA seed,
#       bits5-6 planned N = N + (value - 1), bit7 NaN/Inf in the data
#   2-9   N 0..2, Cin/groups 1..5, groups 1..3, Cout/groups 1..5, H 1..6, W 1..6,
#         kH 1..4, kW 1..4            (each: lo + byte % (hi - lo + 1))
#   10-11 stride 1..4   12-13 dilation 1..3   14-15 padding 0..dil*(k-1)+1
#   16-17 output_padding 0..max(stride, dilation)-1   18 plan algorithm 0..4
#   19-38 per tensor (input, weight, bias, output): layout byte (bits0-2: 0 contiguous,
#         1 channels-last, 2 cropped, 3 innermost reversed, 4 all reversed,
#         5 one stride 0, 6 the next four bytes as strides (byte % 13 - 6), 7 dim 0
#         fastest; bits3-7 a parameter), then 4 stride bytes
#   39    number of mutations (byte % 7)
#   then per mutation: target byte (% 51), kind byte (% 4: 0 small, 1 table, 2 table
#         +-2, 3 raw), 8 bytes little-endian raw value
#
# SPDX-License-Identifier: MIT
import os
import struct
import sys

INT64_MAX = (1 << 63) - 1
INT64_MIN = -(1 << 63)
M64 = (1 << 64) - 1

# mutation targets (the enum in fuzz_convtranspose2d.c; a _Static_assert there pins it)
T = dict(STRIDE0=0, STRIDE1=1, PAD0=2, PAD1=3, OUTPAD0=4, OUTPAD1=5, DIL0=6, DIL1=7,
         GROUPS=8, PRESERVED=9, XSHAPE=10, WSHAPE=14, BSHAPE=18, YSHAPE=19, XSTRIDE=23,
         WSTRIDE=27, BSTRIDE=31, YSTRIDE=32, DTYPE=36, RANK=37, TRESERVED=38, DATA=39,
         ALIAS=40, ALGO=41, ISA=42, THREADS=43, FLAGS=44, ERESERVED=45, WSNULL=46,
         ALLOCATOR=47, NULLPTR=48, OFS=49, BIAS_TOGGLE=50)
X, W, B, Y = 0, 1, 2, 3


def raw(value, sel=0, index=0):
    """Kind-3 (raw) mutation bytes are the value itself; targets that also read a
    selector from bits 32-33 or an index from bits 40+ only get those through the
    'small' kind, see small()."""
    return value & M64


def small(value, sel=0, index=0):
    """A 'small' (kind 0) value -4..31 with a tensor selector (bits 32-33) and an index
    (bits 40-47): the raw number must be == value + 4 (mod 36)."""
    hi = (index << 40) | (sel << 32)
    r = (value + 4 - hi) % 36
    return 0, hi + r


def mutation(target, value=None, sel=0, index=0, kind=None, raw_bits=None):
    if raw_bits is not None:
        return bytes([target, kind]) + struct.pack('<Q', raw_bits & M64)
    if kind is None and -4 <= value <= 31:
        k, r = small(value, sel, index)
        return bytes([target, k]) + struct.pack('<Q', r)
    return bytes([target, 3]) + struct.pack('<Q', raw(value))


def data_mutation(sel, mode, misalign=1):
    """MT_DATA: mode 1 NULL, 2 misaligned by `misalign` bytes, 3 a 16-float dummy."""
    hi = sel << 32
    r = next(r for r in range(1 << 12)
             if (hi + r) % 3 == mode - 1 and ((hi + r) >> 8) % 3 == misalign - 1)
    return mutation(T['DATA'], kind=0, raw_bits=hi + r)


def alias_mutation(target, offset):
    """MT_ALIAS: the output placed `offset` floats (mod the target's extent + 17) into
    the buffer of the input (0), weight (1) or bias (2)."""
    r = next(r for r in range(1 << 12) if ((offset << 8) + r) % 3 == target)
    return mutation(T['ALIAS'], kind=3, raw_bits=(offset << 8) + r)


def case(bias=1, unbatched=0, alloc=0, hook=0, noalloc=0, ws=0, fail_k=0, seed=0,
         plan_extra=1, specials=0, n=1, cin_g=2, groups=1, cout_g=3, h=3, w=4, kh=3, kw=2,
         stride=(2, 1), dil=(1, 1), pad=(0, 1), outpad=(1, 0), plan_algo=0,
         layouts=(0, 0, 0, 0), lparams=(0, 0, 0, 0), lstrides=None, muts=()):
    fa = bias | unbatched << 1 | alloc << 2 | hook << 4 | noalloc << 5 | ws << 6
    fb = fail_k | seed << 3 | plan_extra << 5 | specials << 7
    body = [fa, fb, n, cin_g - 1, groups - 1, cout_g - 1, h - 1, w - 1, kh - 1, kw - 1,
            stride[0] - 1, stride[1] - 1, dil[0] - 1, dil[1] - 1, pad[0], pad[1],
            outpad[0], outpad[1], plan_algo]
    for t in range(4):
        body.append(layouts[t] | lparams[t] << 3)
        ls = (lstrides or {}).get(t, (0, 0, 0, 0))
        body.extend((s + 6) % 13 for s in ls)
    body.append(len(muts))
    out = bytes(body)
    for m in muts:
        out += m
    return out


def seeds():
    s = {}
    # valid problems: every layout on input and output, batched and not, odd params
    s['valid_basic'] = case()
    s['valid_unbatched'] = case(unbatched=1)
    s['valid_empty_batch'] = case(n=0)
    s['valid_depthwise'] = case(cin_g=1, groups=3, cout_g=1, h=6, w=6, kh=4, kw=4,
                                stride=(2, 2), pad=(1, 1), outpad=(0, 0))
    s['valid_grouped_dilated'] = case(cin_g=3, groups=2, cout_g=4, stride=(3, 2),
                                      dil=(2, 3), pad=(2, 3), outpad=(2, 1), kh=4, kw=3)
    s['valid_1x1_input_4x4_kernel'] = case(n=2, cin_g=5, cout_g=5, h=1, w=1, kh=4, kw=4,
                                           stride=(1, 1), pad=(0, 0), outpad=(0, 0))
    for lay in range(8):
        s['layout_%d' % lay] = case(layouts=(lay, 1, 0, lay if lay not in (5, 6) else 2),
                                    lparams=(lay, 0, 0, lay),
                                    lstrides={0: (5, 3, -2, 1)})
    s['plan_bigger_batch'] = case(n=1, plan_extra=3, plan_algo=3, seed=1)
    s['plan_smaller_batch'] = case(n=2, plan_extra=0, plan_algo=2, seed=2)
    s['hook_threads'] = case(hook=1, seed=2, n=2, cin_g=5, cout_g=5)
    s['nan_inf_data'] = case(specials=1)
    # workspace and allocation
    s['ws_exact_noalloc'] = case(ws=1, noalloc=1, cin_g=5, cout_g=5)
    s['ws_half_noalloc'] = case(ws=2, noalloc=1, cin_g=5, cout_g=5)
    s['ws_misaligned'] = case(ws=3, cin_g=5, cout_g=5)
    s['ws_none_noalloc'] = case(ws=0, noalloc=1, cin_g=5, cout_g=5)
    s['alloc_fail_first'] = case(alloc=3, fail_k=0, cin_g=5, cout_g=5)
    s['alloc_fail_second'] = case(alloc=3, fail_k=1, cin_g=5, cout_g=5)
    s['alloc_fail_fourth'] = case(alloc=3, fail_k=3, plan_algo=3)
    s['alloc_libc'] = case(alloc=2)
    # hostile parameters
    s['stride_zero'] = case(muts=[mutation(T['STRIDE0'], 0)])
    # stride INT64_MAX with H = 1 is in fuzz/regressions (a known bug, see RELIABILITY.md)
    s['stride_huge_h1_direct_declined'] = case(h=1, muts=[mutation(T['STRIDE0'], 1 << 40)])
    s['stride_9x9_phases'] = case(muts=[mutation(T['STRIDE0'], 9), mutation(T['STRIDE1'], 9)])
    s['padding_too_large'] = case(muts=[mutation(T['PAD0'], 1 << 40)])
    s['padding_overflow'] = case(muts=[mutation(T['PAD1'], INT64_MAX)])
    s['outpad_not_below_stride'] = case(muts=[mutation(T['OUTPAD0'], 2)])
    s['dilation_negative'] = case(muts=[mutation(T['DIL1'], -1)])
    s['dilation_huge'] = case(muts=[mutation(T['DIL0'], INT64_MAX // 2 + 1)])
    s['groups_zero'] = case(muts=[mutation(T['GROUPS'], 0)])
    s['groups_not_dividing'] = case(cin_g=2, muts=[mutation(T['GROUPS'], 3)])
    s['params_reserved'] = case(muts=[mutation(T['PRESERVED'], 5, index=6)])
    # hostile tensors
    s['input_shape_negative'] = case(muts=[mutation(T['XSHAPE'] + 2, -1)])
    s['input_n_int64max'] = case(muts=[mutation(T['XSHAPE'] + 0, INT64_MAX)])
    s['weight_broadcast_huge'] = case(muts=[mutation(T['WSHAPE'] + 1, 1 << 31),
                                            mutation(T['WSTRIDE'] + 0, 0),
                                            mutation(T['WSTRIDE'] + 1, 0)])
    s['input_stride_int64min'] = case(muts=[mutation(T['XSTRIDE'] + 3, INT64_MIN)])
    s['input_extent_overflow'] = case(muts=[mutation(T['XSTRIDE'] + 1, INT64_MAX // 2)])
    s['weight_negative_extent_below_0'] = case(muts=[mutation(T['WSTRIDE'] + 0, -(1 << 61))])
    s['bias_shape_mismatch'] = case(muts=[mutation(T['BSHAPE'], 7)])
    s['output_shape_mismatch'] = case(muts=[mutation(T['YSHAPE'] + 3, 2)])
    s['dtype_zero'] = case(muts=[mutation(T['DTYPE'], 0, sel=W)])
    s['rank_five'] = case(muts=[mutation(T['RANK'], 5, sel=X)])
    s['tensor_reserved'] = case(muts=[mutation(T['TRESERVED'], 1, sel=Y, index=1)])
    s['data_null_input'] = case(muts=[data_mutation(X, 1)])
    s['data_misaligned_output'] = case(muts=[data_mutation(Y, 2, 2)])
    s['data_misaligned_weight'] = case(muts=[data_mutation(W, 2, 1)])
    s['data_dummy_huge'] = case(muts=[mutation(T['XSTRIDE'] + 0, 1 << 40), data_mutation(X, 3)])
    # aliasing
    s['alias_output_on_input'] = case(muts=[alias_mutation(X, 0)])
    s['alias_output_after_weight'] = case(kh=1, kw=1, muts=[alias_mutation(W, 6 + 17 - 1)])
    s['alias_output_on_bias'] = case(muts=[alias_mutation(B, 1)])
    s['output_stride_zero'] = case(layouts=(0, 0, 0, 5), lparams=(0, 0, 0, 3))
    s['output_interleaved'] = case(layouts=(0, 0, 0, 6), lstrides={3: (0, 1, 3, 2)},
                                   h=2, w=2, kh=1, kw=2, stride=(1, 1), pad=(0, 0),
                                   outpad=(0, 0))
    # execution options
    s['exec_algorithm_bad'] = case(muts=[mutation(T['ALGO'], 7)])
    s['exec_isa_bad'] = case(muts=[mutation(T['ISA'], 9)])
    s['exec_threads_negative'] = case(muts=[mutation(T['THREADS'], -1)])
    s['exec_threads_many'] = case(alloc=0, muts=[mutation(T['THREADS'], 9)])
    s['exec_flags_unknown'] = case(muts=[mutation(T['FLAGS'], 2)])
    s['exec_reserved'] = case(muts=[mutation(T['ERESERVED'], 1, index=5)])
    s['exec_workspace_null'] = case(muts=[mutation(T['WSNULL'], 8)])
    s['exec_allocator_no_free'] = case(muts=[mutation(T['ALLOCATOR'], 0, kind=3, raw_bits=0)])
    s['null_params'] = case(muts=[mutation(T['NULLPTR'], 0, kind=3, raw_bits=0)])
    s['null_output'] = case(muts=[mutation(T['NULLPTR'], 0, kind=3, raw_bits=3)])
    s['null_exec'] = case(muts=[mutation(T['NULLPTR'], 0, kind=3, raw_bits=4)])
    s['output_size_request'] = case(muts=[mutation(T['OFS'], 1, index=4)])
    s['output_size_overflow'] = case(muts=[mutation(T['OFS'], 0, kind=1,
                                                    raw_bits=(1 << 40) | 32)])  # in_size[1] huge
    s['bias_toggled'] = case(bias=0, muts=[mutation(T['BIAS_TOGGLE'], 0)])
    return s


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), 'corpus')
    os.makedirs(out, exist_ok=True)
    for name, data in sorted(seeds().items()):
        with open(os.path.join(out, name), 'wb') as f:
            f.write(data)
    print('wrote %d seeds to %s' % (len(seeds()), out))


if __name__ == '__main__':
    main()
