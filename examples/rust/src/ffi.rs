//! Hand-written bindings mirroring include/tconv.h (the parts this example uses, and
//! every struct in full). Layouts are checked at compile time on 64-bit targets against
//! the sizes documented in docs/FFI.md.
//!
//! C enums cross the boundary as `c_int` (function arguments and results) or `i32`
//! (struct fields, which the header declares as int32_t).

#![allow(non_camel_case_types, dead_code)]

use std::os::raw::{c_char, c_int, c_uint, c_void};

pub const TCONV_MAX_RANK: usize = 4;
pub const TCONV_DTYPE_F32: i32 = 1;

pub type tconv_status = c_int;
pub const TCONV_OK: tconv_status = 0;
pub const TCONV_ERR_NULL_POINTER: tconv_status = 1;
pub const TCONV_ERR_INVALID_ARGUMENT: tconv_status = 2;
pub const TCONV_ERR_SHAPE_MISMATCH: tconv_status = 3;
pub const TCONV_ERR_SIZE_OVERFLOW: tconv_status = 4;
pub const TCONV_ERR_ALIASING: tconv_status = 5;
pub const TCONV_ERR_UNSUPPORTED: tconv_status = 6;
pub const TCONV_ERR_OUT_OF_MEMORY: tconv_status = 7;
pub const TCONV_ERR_WORKSPACE_TOO_SMALL: tconv_status = 8;
pub const TCONV_ERR_SYSTEM: tconv_status = 9;

pub const TCONV_ALGO_AUTO: i32 = 0;
pub const TCONV_ALGO_REFERENCE: i32 = 1;

pub const TCONV_ISA_AUTO: i32 = 0;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct tconv_tensor {
    pub data: *mut c_void,
    pub dtype: i32,
    pub rank: i32,
    pub shape: [i64; TCONV_MAX_RANK],
    pub stride: [i64; TCONV_MAX_RANK],
    pub reserved: [i64; 2],
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct tconv_params {
    pub stride: [i64; 2],
    pub padding: [i64; 2],
    pub output_padding: [i64; 2],
    pub dilation: [i64; 2],
    pub groups: i64,
    pub reserved: [i64; 7],
}

pub type tconv_alloc_fn = Option<unsafe extern "C" fn(*mut c_void, usize, usize) -> *mut c_void>;
pub type tconv_free_fn = Option<unsafe extern "C" fn(*mut c_void, *mut c_void)>;
pub type tconv_task_fn = Option<unsafe extern "C" fn(*mut c_void, i64)>;
pub type tconv_parallel_for_fn =
    Option<unsafe extern "C" fn(*mut c_void, tconv_task_fn, *mut c_void, i64)>;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct tconv_allocator {
    pub alloc: tconv_alloc_fn,
    pub free: tconv_free_fn,
    pub ctx: *mut c_void,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct tconv_exec {
    pub algorithm: i32,
    pub isa: i32,
    pub num_threads: i32,
    pub flags: u32,
    pub workspace: *mut c_void,
    pub workspace_size: usize,
    pub allocator: *const tconv_allocator,
    pub parallel_for: tconv_parallel_for_fn,
    pub parallel_ctx: *mut c_void,
    pub reserved: [i64; 6],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct tconv_report {
    pub algorithm: i32,
    pub isa: i32,
    pub num_threads: i32,
    pub reserved0: i32,
    pub workspace_bytes: usize,
    pub reason: *const c_char,
    pub reserved: [i64; 4],
}

/// Opaque plan handle.
#[repr(C)]
pub struct tconv_plan {
    _private: [u8; 0],
}

// Layout checks (LP64), the numbers of docs/FFI.md.
#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(std::mem::size_of::<tconv_tensor>() == 96);
    assert!(std::mem::size_of::<tconv_params>() == 128);
    assert!(std::mem::size_of::<tconv_allocator>() == 24);
    assert!(std::mem::size_of::<tconv_exec>() == 104);
    assert!(std::mem::size_of::<tconv_report>() == 64);
};

extern "C" {
    pub fn tconv_version_number() -> c_uint;
    pub fn tconv_version_string() -> *const c_char;
    pub fn tconv_status_string(status: tconv_status) -> *const c_char;
    pub fn tconv_last_error_message() -> *const c_char;

    pub fn tconv_tensor_nchw(data: *mut c_void, n: i64, c: i64, h: i64, w: i64)
        -> tconv_tensor;
    pub fn tconv_tensor_nhwc(data: *mut c_void, n: i64, c: i64, h: i64, w: i64)
        -> tconv_tensor;
    pub fn tconv_tensor_chw(data: *mut c_void, c: i64, h: i64, w: i64) -> tconv_tensor;
    pub fn tconv_tensor_1d(data: *mut c_void, n: i64) -> tconv_tensor;

    pub fn tconv_params_default() -> tconv_params;
    pub fn tconv_exec_default() -> tconv_exec;

    pub fn tconv_output_shape(
        params: *const tconv_params,
        input: *const tconv_tensor,
        weight: *const tconv_tensor,
        out_shape: *mut i64,
    ) -> tconv_status;

    pub fn tconv_algorithm_name(algorithm: c_int) -> *const c_char;
    pub fn tconv_isa_name(isa: c_int) -> *const c_char;
    pub fn tconv_isa_detected() -> c_int;

    pub fn tconv_convtranspose2d_ex(
        params: *const tconv_params,
        input: *const tconv_tensor,
        weight: *const tconv_tensor,
        bias: *const tconv_tensor,
        output: *const tconv_tensor,
        exec: *const tconv_exec,
        report: *mut tconv_report,
    ) -> tconv_status;

    pub fn tconv_plan_create(
        plan: *mut *mut tconv_plan,
        params: *const tconv_params,
        input: *const tconv_tensor,
        weight: *const tconv_tensor,
        bias: *const tconv_tensor,
        exec: *const tconv_exec,
    ) -> tconv_status;
    pub fn tconv_plan_run(
        plan: *const tconv_plan,
        input: *const tconv_tensor,
        output: *const tconv_tensor,
        exec: *const tconv_exec,
        report: *mut tconv_report,
    ) -> tconv_status;
    pub fn tconv_plan_info(plan: *const tconv_plan, report: *mut tconv_report) -> tconv_status;
    pub fn tconv_plan_destroy(plan: *mut tconv_plan);
}
