/*
 * tconv.h - 2-D transposed convolution with the semantics of PyTorch's
 * torch.nn.ConvTranspose2d. This header is the whole public API and its manual.
 *
 * SPDX-License-Identifier: MIT
 *
 * Conventions
 *   - Every function that can fail returns a tconv_status. TCONV_OK is 0; every
 *     other value is a failure whose meaning never changes between versions.
 *   - On failure a human-readable message naming the violated rule and the values
 *     is available from tconv_last_error_message() on the calling thread, and the
 *     output tensor has not been written.
 *   - Tensors are views (tconv_tensor): tconv never owns, frees or keeps them.
 *   - Sizes, shapes and strides are int64_t; strides are in elements, not bytes.
 *   - Structs have reserved fields that must be zero; initialise params and exec with
 *     the *_default() functions or the TCONV_*_INIT macros, tensors with the
 *     tconv_tensor_*() helpers (or zero them), then set what you need.
 *   - Data is float32 and expected finite: with Inf or NaN inputs the results follow
 *     IEEE arithmetic but may differ between algorithms (a GEMM path can multiply an
 *     infinite weight by a zero standing for a position outside the input).
 *
 * Valid C99 and C++ (extern "C"); self-contained (needs only <stddef.h>, <stdint.h>).
 */
#ifndef TCONV_H
#define TCONV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ export */
#if defined(_WIN32) && !defined(TCONV_STATIC)
#  ifdef TCONV_BUILDING
#    define TCONV_API __declspec(dllexport)
#  else
#    define TCONV_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__) || defined(__clang__)
#  define TCONV_API __attribute__((visibility("default")))
#else
#  define TCONV_API
#endif

/* ----------------------------------------------------------------- version */
#define TCONV_VERSION_MAJOR 0
#define TCONV_VERSION_MINOR 1
#define TCONV_VERSION_PATCH 0
/* MAJOR * 10000 + MINOR * 100 + PATCH, e.g. 100 for 0.1.0 */
#define TCONV_VERSION_NUMBER \
    (TCONV_VERSION_MAJOR * 10000 + TCONV_VERSION_MINOR * 100 + TCONV_VERSION_PATCH)
#define TCONV_VERSION_STRING "0.1.0"

/* The version of the library actually linked (compare with TCONV_VERSION_NUMBER). */
TCONV_API unsigned tconv_version_number(void);
TCONV_API const char *tconv_version_string(void);

/* ------------------------------------------------------------------ status */
/* Values are part of the ABI: they never change meaning, new ones are appended. */
typedef enum tconv_status {
    TCONV_OK = 0,
    TCONV_ERR_NULL_POINTER = 1,     /* a required pointer argument or tensor data is NULL */
    TCONV_ERR_INVALID_ARGUMENT = 2, /* a parameter breaks a rule (stride < 1, bad dtype, ...) */
    TCONV_ERR_SHAPE_MISMATCH = 3,   /* tensors' shapes disagree with each other or the params */
    TCONV_ERR_SIZE_OVERFLOW = 4,    /* a size, index or byte count does not fit in int64/size_t */
    TCONV_ERR_ALIASING = 5,         /* output memory overlaps an input or itself */
    TCONV_ERR_UNSUPPORTED = 6,      /* valid request this build/algorithm cannot run */
    TCONV_ERR_OUT_OF_MEMORY = 7,    /* an allocation failed */
    TCONV_ERR_WORKSPACE_TOO_SMALL = 8, /* caller's workspace is smaller than required */
    TCONV_ERR_SYSTEM = 9            /* the OS refused a resource (e.g. a thread) */
} tconv_status;

/* Short constant name of a status ("TCONV_ERR_SHAPE_MISMATCH: ..."); never NULL. */
TCONV_API const char *tconv_status_string(tconv_status status);

/* Message of the last failing call made by the calling thread, naming the rule and
 * the values, e.g. "output_padding[0]=2 must be smaller than stride[0]=2 or
 * dilation[0]=1". Empty string if that call succeeded. Thread-local storage: valid
 * until the next status-returning tconv call on the same thread; never NULL. */
TCONV_API const char *tconv_last_error_message(void);

/* ------------------------------------------------------------------ tensor */
typedef enum tconv_dtype {
    TCONV_DTYPE_F32 = 1 /* 0 is deliberately invalid; f16/bf16/f64 will be appended */
} tconv_dtype;

#define TCONV_MAX_RANK 4

/* A non-owning strided view. Element (i0, i1, ...) lives at
 *   data + sum_d(i_d * stride[d]) elements.
 * Strides may be any sign for inputs (0 broadcasts); the output's elements must not
 * overlap each other. Shapes are:
 *   input   rank 4 (N, Cin, H, W) or rank 3 (Cin, H, W) (unbatched)
 *   weight  rank 4 (Cin, Cout/groups, kH, kW)           (PyTorch's layout)
 *   bias    rank 1 (Cout)
 *   output  same rank as input: (N, Cout, Hout, Wout) or (Cout, Hout, Wout)
 * Contiguous NCHW, channels-last (NHWC in memory, shape still N,C,H,W) and cropped
 * sub-views are all just strides. Inputs are never written through `data`. */
typedef struct tconv_tensor {
    void *data;
    int32_t dtype;    /* tconv_dtype */
    int32_t rank;     /* 1..TCONV_MAX_RANK, as the role requires */
    int64_t shape[TCONV_MAX_RANK];
    int64_t stride[TCONV_MAX_RANK];
    int64_t reserved[2]; /* must be zero */
} tconv_tensor;

/* Helpers for the common cases (f32). They compute strides only; no check is made
 * here, the calls that take the tensor validate it. */
TCONV_API tconv_tensor tconv_tensor_nchw(void *data, int64_t n, int64_t c, int64_t h, int64_t w);
/* Channels-last: shape (n, c, h, w), memory order n, h, w, c. */
TCONV_API tconv_tensor tconv_tensor_nhwc(void *data, int64_t n, int64_t c, int64_t h, int64_t w);
/* Unbatched contiguous (c, h, w). */
TCONV_API tconv_tensor tconv_tensor_chw(void *data, int64_t c, int64_t h, int64_t w);
/* Contiguous 1-D (bias). */
TCONV_API tconv_tensor tconv_tensor_1d(void *data, int64_t n);

/* ------------------------------------------------------------------ params */
/* Per-dimension arrays are [0] = height, [1] = width. */
typedef struct tconv_params {
    int64_t stride[2];         /* >= 1 */
    int64_t padding[2];        /* >= 0: rows/columns trimmed from each side of the output */
    int64_t output_padding[2]; /* >= 0, < stride or < dilation (PyTorch's rule) */
    int64_t dilation[2];       /* >= 1 */
    int64_t groups;            /* >= 1, divides Cin and Cout */
    int64_t reserved[7];       /* must be zero (room for asymmetric padding, activations) */
} tconv_params;

#define TCONV_PARAMS_INIT {{1, 1}, {0, 0}, {0, 0}, {1, 1}, 1, {0, 0, 0, 0, 0, 0, 0}}

/* stride 1, padding 0, output_padding 0, dilation 1, groups 1. */
TCONV_API tconv_params tconv_params_default(void);

/* ------------------------------------------------------------ shape helpers */
/* Output shape of the layer for this input and weight:
 *   Hout = (H-1)*stride[0] - 2*padding[0] + dilation[0]*(kH-1) + output_padding[0] + 1
 * and the same for W. Writes input->rank entries to out_shape (N, Cout, Hout, Wout or
 * Cout, Hout, Wout). Only shapes are read; data pointers may be NULL.
 * Returns TCONV_OK, NULL_POINTER, INVALID_ARGUMENT, SHAPE_MISMATCH, SIZE_OVERFLOW. */
TCONV_API tconv_status tconv_output_shape(const tconv_params *params, const tconv_tensor *input,
                                          const tconv_tensor *weight,
                                          int64_t out_shape[TCONV_MAX_RANK]);

/* PyTorch's `output_size=` argument: the output_padding that makes the output exactly
 * output_size[0] x output_size[1] for a spatial input of in_size (H, W) and a kernel of
 * kernel_size (kH, kW), ignoring params->output_padding. Valid sizes per dimension are
 * [min, min + stride - 1] with min the size for output_padding 0; otherwise
 * INVALID_ARGUMENT and the message gives the valid range.
 * Returns TCONV_OK, NULL_POINTER, INVALID_ARGUMENT, SIZE_OVERFLOW. */
TCONV_API tconv_status tconv_output_padding_for_size(const tconv_params *params,
                                                     const int64_t in_size[2],
                                                     const int64_t kernel_size[2],
                                                     const int64_t output_size[2],
                                                     int64_t output_padding[2]);

/* -------------------------------------------------------------- algorithms */
/* Values are ABI; later releases append. */
typedef enum tconv_algorithm {
    TCONV_ALGO_AUTO = 0,      /* let tconv choose by shape (tconv_report says which and why) */
    TCONV_ALGO_REFERENCE = 1, /* scatter-add loops: the specification, slow */
    TCONV_ALGO_GEMM_COL2IM = 2, /* per group W^T X on our SGEMM, then col2im scatter-add */
    TCONV_ALGO_PHASE_GEMM = 3,  /* stride-phase decomposition, each phase one GEMM into output */
    TCONV_ALGO_DIRECT = 4       /* direct kernel for depthwise / few channels per group */
} tconv_algorithm;
#define TCONV_ALGO_COUNT 5

/* "auto", "reference", "gemm_col2im", "phase_gemm", "direct"; "?" for unknown values. */
TCONV_API const char *tconv_algorithm_name(int algorithm);

/* Instruction-set levels of the micro-kernels. Values are ABI. */
typedef enum tconv_isa {
    TCONV_ISA_AUTO = 0,   /* the best this CPU supports (or $TCONV_ISA, see docs) */
    TCONV_ISA_SCALAR = 1, /* portable C, every machine */
    TCONV_ISA_AVX2 = 2,   /* x86-64 AVX2 + FMA */
    TCONV_ISA_AVX512 = 3  /* x86-64 AVX-512F */
} tconv_isa;

/* "auto", "scalar", "avx2", "avx512"; "?" for unknown values. */
TCONV_API const char *tconv_isa_name(int isa);
/* The ISA level tconv uses when asked for TCONV_ISA_AUTO: the best the CPU and this
 * build support, lowered by the environment variable TCONV_ISA=scalar|avx2|avx512
 * (read once, at the first call). */
TCONV_API tconv_isa tconv_isa_detected(void);

/* --------------------------------------------------------- execution options */
/* Memory hooks. alloc must return memory aligned to `alignment` (a power of two
 * <= 4096) or NULL; free(ctx, NULL) must be harmless. */
typedef struct tconv_allocator {
    void *(*alloc)(void *ctx, size_t size, size_t alignment);
    void (*free)(void *ctx, void *ptr);
    void *ctx;
} tconv_allocator;

/* A caller-supplied parallel-for: run fn(task_ctx, i) for every i in [0, n), in any
 * order, on any threads, and return when all have finished. */
typedef void (*tconv_task_fn)(void *task_ctx, int64_t i);
typedef void (*tconv_parallel_for_fn)(void *pool_ctx, tconv_task_fn fn, void *task_ctx,
                                      int64_t n);

#define TCONV_FLAG_NO_ALLOC 1u /* never allocate: fail with WORKSPACE_TOO_SMALL instead */

typedef struct tconv_exec {
    int32_t algorithm;     /* tconv_algorithm; AUTO by default */
    int32_t isa;           /* tconv_isa; AUTO by default */
    int32_t num_threads;   /* 0 = default (see docs); 1 = the calling thread only */
    uint32_t flags;        /* TCONV_FLAG_* */
    void *workspace;       /* caller's scratch memory, or NULL */
    size_t workspace_size; /* its size in bytes */
    const tconv_allocator *allocator;    /* NULL = malloc/free */
    tconv_parallel_for_fn parallel_for;  /* NULL = tconv's own threads */
    void *parallel_ctx;
    int64_t reserved[6];   /* must be zero */
} tconv_exec;

#define TCONV_EXEC_INIT {0, 0, 0, 0u, NULL, 0, NULL, NULL, NULL, {0, 0, 0, 0, 0, 0}}

TCONV_API tconv_exec tconv_exec_default(void);

/* What a call did, filled on success when the caller passes one. */
typedef struct tconv_report {
    int32_t algorithm;      /* tconv_algorithm that ran */
    int32_t isa;            /* tconv_isa of the micro-kernels used (SCALAR for reference) */
    int32_t num_threads;    /* threads the call could use (1 for reference; 0 in plan info) */
    int32_t reserved0;
    size_t workspace_bytes; /* the workspace the call needed (0 if none) */
    const char *reason;     /* why this algorithm (static string, never NULL) */
    int64_t reserved[4];
} tconv_report;

/* ------------------------------------------------------------------ forward */
/* out = conv_transpose2d(input, weight, bias), PyTorch semantics, automatic choice of
 * algorithm and ISA, default threads, memory from malloc. bias may be NULL.
 * Returns TCONV_OK, NULL_POINTER, INVALID_ARGUMENT, SHAPE_MISMATCH, SIZE_OVERFLOW,
 * ALIASING, UNSUPPORTED, OUT_OF_MEMORY, SYSTEM. */
TCONV_API tconv_status tconv_convtranspose2d(const tconv_params *params,
                                             const tconv_tensor *input,
                                             const tconv_tensor *weight,
                                             const tconv_tensor *bias,
                                             const tconv_tensor *output);

/* The same with execution options (exec may be NULL = defaults) and an optional report.
 * An explicit algorithm that cannot run this problem gives UNSUPPORTED. With a caller
 * workspace of at least tconv_workspace_size() bytes (any alignment: tconv aligns
 * inside it) the call allocates nothing.
 * Also returns WORKSPACE_TOO_SMALL (with TCONV_FLAG_NO_ALLOC and too little workspace). */
TCONV_API tconv_status tconv_convtranspose2d_ex(const tconv_params *params,
                                                const tconv_tensor *input,
                                                const tconv_tensor *weight,
                                                const tconv_tensor *bias,
                                                const tconv_tensor *output,
                                                const tconv_exec *exec,
                                                tconv_report *report);

/* Bytes of workspace tconv_convtranspose2d_ex needs for this problem with these
 * options (0 if none). Data pointers may be NULL; shapes must be valid.
 * Returns TCONV_OK or any validation status of tconv_convtranspose2d_ex. */
TCONV_API tconv_status tconv_workspace_size(const tconv_params *params,
                                            const tconv_tensor *input,
                                            const tconv_tensor *weight,
                                            const tconv_tensor *bias,
                                            const tconv_tensor *output,
                                            const tconv_exec *exec, size_t *bytes);

/* ------------------------------------------------------------------- plans */
/* A plan is made once per layer and run many times: it holds the params, a copy of the
 * weight and bias (pre-packed for the chosen algorithm), the chosen algorithm and ISA.
 *
 * Creation: `input` gives the input shape (its data is ignored): rank 3, or rank 4
 * whose N is the largest batch the plan will run. The weight and bias are copied, so
 * the caller may free them afterwards. exec (may be NULL) picks the algorithm and ISA
 * (AUTO = by shape and CPU) and the allocator; the plan keeps a copy of the
 * tconv_allocator struct (the functions and ctx must outlive the plan) and allocates
 * all its memory through it. num_threads and workspace of exec are not used here.
 *
 * Running: the input must have the plan's Cin, H, W and rank, and N no larger than the
 * planned N (0 is fine). exec's algorithm and isa must be AUTO or equal to the plan's;
 * its threads, workspace, allocator and parallel_for apply to that run. A run that
 * brings no workspace, no allocator and no TCONV_FLAG_NO_ALLOC uses a workspace the
 * plan keeps between runs (allocated at the first such run through the plan's
 * allocator, grown when a run needs more, freed by tconv_plan_destroy), so repeated
 * runs allocate nothing.
 *
 * Thread safety: a plan's layer is immutable after creation. Any number of threads may
 * run the same plan at once, each with its own output (and its own workspace if they
 * pass one; a run that finds the kept workspace in use allocates its own). Destroy it
 * only when no run is in progress.
 *
 * tconv_plan_create returns TCONV_OK or any status of tconv_convtranspose2d_ex except
 * ALIASING; *plan is NULL on failure. */
typedef struct tconv_plan tconv_plan;

TCONV_API tconv_status tconv_plan_create(tconv_plan **plan, const tconv_params *params,
                                         const tconv_tensor *input, const tconv_tensor *weight,
                                         const tconv_tensor *bias, const tconv_exec *exec);

/* output = the planned layer applied to input. Same statuses as tconv_convtranspose2d_ex
 * (+ SHAPE_MISMATCH when the input does not fit the plan). The plan reads only its own
 * copies of the weight and bias: the output may lie on the caller's. */
TCONV_API tconv_status tconv_plan_run(const tconv_plan *plan, const tconv_tensor *input,
                                      const tconv_tensor *output, const tconv_exec *exec,
                                      tconv_report *report);

/* Workspace bytes a run of the planned N needs with exec's thread count (exec may be
 * NULL = defaults), whatever its views' strides; a caller workspace of that size makes
 * runs allocation-free. (A run may need less, e.g. when it reads its input in place
 * where a channels-last run copies it: its report's workspace_bytes says how much.)
 * Returns TCONV_OK, NULL_POINTER, INVALID_ARGUMENT, SIZE_OVERFLOW. */
TCONV_API tconv_status tconv_plan_workspace_size(const tconv_plan *plan, const tconv_exec *exec,
                                                 size_t *bytes);

/* Fills report with the plan's algorithm, isa, reason and the bytes it holds
 * (workspace_bytes = its packed weights). Returns TCONV_OK or NULL_POINTER. */
TCONV_API tconv_status tconv_plan_info(const tconv_plan *plan, tconv_report *report);

/* Frees the plan (NULL is fine). */
TCONV_API void tconv_plan_destroy(tconv_plan *plan);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TCONV_H */
