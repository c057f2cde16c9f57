//! Runs a transposed-convolution layer (stride 2, 4x4 kernel, padding 1, with bias, the
//! DCGAN upsampling layer) through libtconv from Rust: once with the automatic choice of
//! algorithm, once through a plan, and checks both against TCONV_ALGO_REFERENCE.
//!
//! Tolerance, per output element: |y - y_ref| <= 4 * (K + 1) * 2^-24 * S, where
//! K = Cin/groups * kH * kW and S = |bias| + sum |x * w| (computed by the reference on
//! absolute values). Each result is within 2 * (K + 1) * 2^-24 * S of the exact value
//! (the bound the PyTorch conformance suite enforces), so two results are within twice
//! that of each other.
//!
//! Exits 0 when everything matches, 1 otherwise.

mod ffi;

use ffi::*;
use std::ffi::CStr;
use std::os::raw::{c_char, c_void};
use std::process::ExitCode;
use std::ptr;

fn text(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: the library returns NUL-terminated strings that live at least until the
    // next call on this thread; we copy at once.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// Ok for TCONV_OK, else the status name and the thread's error message.
fn check(status: tconv_status, what: &str) -> Result<(), String> {
    if status == TCONV_OK {
        return Ok(());
    }
    // SAFETY: plain calls without arguments; the strings are copied by text().
    let (msg, name) = unsafe { (tconv_last_error_message(), tconv_status_string(status)) };
    Err(format!("{} failed: {} [{}]", what, text(msg), text(name)))
}

/// Owns a tconv_plan; destroys it when dropped.
struct Plan(*mut tconv_plan);

impl Drop for Plan {
    fn drop(&mut self) {
        // SAFETY: created by tconv_plan_create, destroyed exactly once, no run in progress.
        unsafe { tconv_plan_destroy(self.0) }
    }
}

/// A small deterministic generator (xorshift64*), values in [-1, 1).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let v = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40; // 24 bits
        (v as f32) / (1u32 << 23) as f32 - 1.0
    }
    fn fill(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.next()).collect()
    }
}

fn print_report(label: &str, r: &tconv_report) {
    // SAFETY: name lookups accept any value and return static strings.
    let (algo, isa) = unsafe { (tconv_algorithm_name(r.algorithm), tconv_isa_name(r.isa)) };
    println!(
        "{:<10} algorithm={} isa={} threads={} workspace={} bytes ({})",
        label,
        text(algo),
        text(isa),
        r.num_threads,
        r.workspace_bytes,
        text(r.reason)
    );
}

fn empty_report() -> tconv_report {
    tconv_report {
        algorithm: 0,
        isa: 0,
        num_threads: 0,
        reserved0: 0,
        workspace_bytes: 0,
        reason: ptr::null(),
        reserved: [0; 4],
    }
}

/// Largest |a - b| / tol over all elements (tol from S), and its index.
fn worst_ratio(a: &[f32], b: &[f32], s: &[f32], k: usize) -> (f64, usize) {
    let unit = 4.0 * (k as f64 + 1.0) * (2.0f64).powi(-24);
    let mut worst = (0.0f64, 0usize);
    for i in 0..a.len() {
        let err = (a[i] as f64 - b[i] as f64).abs();
        let tol = unit * s[i] as f64;
        let r = if tol > 0.0 {
            err / tol
        } else if err > 0.0 || err.is_nan() {
            f64::INFINITY
        } else {
            0.0
        };
        if r > worst.0 || r.is_nan() {
            worst = (if r.is_nan() { f64::INFINITY } else { r }, i);
        }
    }
    worst
}

struct Layer {
    params: tconv_params,
    n: i64,
    cin: i64,
    h: i64,
    w: i64,
    cout: i64,
    k: i64,
}

impl Layer {
    fn input(&self, x: &[f32], n: i64) -> tconv_tensor {
        // SAFETY: computes strides only. tconv never writes through an input's data.
        unsafe { tconv_tensor_nchw(x.as_ptr() as *mut c_void, n, self.cin, self.h, self.w) }
    }
    fn weight(&self, wt: &[f32]) -> tconv_tensor {
        unsafe { tconv_tensor_nchw(wt.as_ptr() as *mut c_void, self.cin, self.cout, self.k, self.k) }
    }
    fn bias(&self, b: &[f32]) -> tconv_tensor {
        unsafe { tconv_tensor_1d(b.as_ptr() as *mut c_void, self.cout) }
    }

    fn output_shape(&self) -> Result<[i64; 4], String> {
        let xv = self.input(&[], self.n);
        let wv = self.weight(&[]);
        let mut shape = [0i64; 4];
        // SAFETY: only shapes are read; shape has TCONV_MAX_RANK entries.
        check(
            unsafe { tconv_output_shape(&self.params, &xv, &wv, shape.as_mut_ptr()) },
            "tconv_output_shape",
        )?;
        Ok(shape)
    }

    /// One-shot call with the given algorithm; returns the output and the report.
    fn run(&self, x: &[f32], wt: &[f32], b: &[f32], algorithm: i32)
        -> Result<(Vec<f32>, tconv_report), String> {
        let s = self.output_shape()?;
        let mut y = vec![0f32; (s[0] * s[1] * s[2] * s[3]) as usize];
        let (xv, wv, bv) = (self.input(x, self.n), self.weight(wt), self.bias(b));
        let yv = unsafe { tconv_tensor_nchw(y.as_mut_ptr() as *mut c_void, s[0], s[1], s[2], s[3]) };
        // SAFETY: exec from the defaults initializer keeps the reserved fields zero.
        let mut exec = unsafe { tconv_exec_default() };
        exec.algorithm = algorithm;
        let mut rep = empty_report();
        // SAFETY: every view covers memory we own for the duration of the call.
        check(
            unsafe { tconv_convtranspose2d_ex(&self.params, &xv, &wv, &bv, &yv, &exec, &mut rep) },
            "tconv_convtranspose2d_ex",
        )?;
        Ok((y, rep))
    }
}

fn run() -> Result<bool, String> {
    // SAFETY: plain queries.
    unsafe {
        println!(
            "tconv {} (number {}), ISA {}",
            text(tconv_version_string()),
            tconv_version_number(),
            text(tconv_isa_name(tconv_isa_detected()))
        );
    }
    let mut params = unsafe { tconv_params_default() };
    params.stride = [2, 2];
    params.padding = [1, 1];
    let layer = Layer { params, n: 2, cin: 8, h: 7, w: 7, cout: 4, k: 4 };
    let k_terms = (layer.cin * layer.k * layer.k) as usize;

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let x = rng.fill((layer.n * layer.cin * layer.h * layer.w) as usize);
    let wt = rng.fill((layer.cin * layer.cout * layer.k * layer.k) as usize);
    let b = rng.fill(layer.cout as usize);
    let shape = layer.output_shape()?;
    println!(
        "input ({}, {}, {}, {}) -> output ({}, {}, {}, {}), stride 2, kernel 4, padding 1, bias",
        layer.n, layer.cin, layer.h, layer.w, shape[0], shape[1], shape[2], shape[3]
    );

    let (y_ref, rep_ref) = layer.run(&x, &wt, &b, TCONV_ALGO_REFERENCE)?;
    print_report("reference", &rep_ref);
    let (y_auto, rep_auto) = layer.run(&x, &wt, &b, TCONV_ALGO_AUTO)?;
    print_report("auto", &rep_auto);
    // S = |b| + sum |x w|: the reference on absolute values.
    let abs = |v: &Vec<f32>| v.iter().map(|a| a.abs()).collect::<Vec<f32>>();
    let (s_abs, _) = layer.run(&abs(&x), &abs(&wt), &abs(&b), TCONV_ALGO_REFERENCE)?;

    let mut ok = true;
    let (r, i) = worst_ratio(&y_auto, &y_ref, &s_abs, k_terms);
    println!("auto vs reference: worst {:.3} x tolerance (element {})", r, i);
    ok &= r <= 1.0;

    // A plan: weights copied (and packed) once, run on the full batch and on one image.
    let (xv, wv, bv) = (layer.input(&x, layer.n), layer.weight(&wt), layer.bias(&b));
    let mut handle: *mut tconv_plan = ptr::null_mut();
    // SAFETY: the views are valid; the plan copies weight and bias.
    check(
        unsafe { tconv_plan_create(&mut handle, &layer.params, &xv, &wv, &bv, ptr::null()) },
        "tconv_plan_create",
    )?;
    let plan = Plan(handle);
    let mut info = empty_report();
    check(unsafe { tconv_plan_info(plan.0, &mut info) }, "tconv_plan_info")?;
    print_report("plan", &info);

    let per_image = (shape[1] * shape[2] * shape[3]) as usize;
    for n in [layer.n, 1] {
        let mut y = vec![f32::NAN; n as usize * per_image];
        let xv = layer.input(&x, n);
        let yv = unsafe {
            tconv_tensor_nchw(y.as_mut_ptr() as *mut c_void, n, shape[1], shape[2], shape[3])
        };
        let mut rep = empty_report();
        // SAFETY: x holds at least n images; y is ours; exec NULL = defaults.
        check(
            unsafe { tconv_plan_run(plan.0, &xv, &yv, ptr::null(), &mut rep) },
            "tconv_plan_run",
        )?;
        let m = n as usize * per_image;
        let (r, i) = worst_ratio(&y, &y_ref[..m], &s_abs[..m], k_terms);
        print_report(&format!("plan N={}", n), &rep);
        println!("plan (N={}) vs reference: worst {:.3} x tolerance (element {})", n, r, i);
        ok &= r <= 1.0;
    }

    // Errors come back as a status plus a message naming the rule and the values.
    let mut bad = layer.params;
    bad.output_padding = [2, 2];
    let bad_layer = Layer { params: bad, ..layer };
    match bad_layer.output_shape() {
        Err(e) => println!("expected error: {}", e),
        Ok(_) => {
            println!("output_padding 2 with stride 2 was accepted");
            ok = false;
        }
    }
    Ok(ok)
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => {
            println!("OK: results match the reference");
            ExitCode::SUCCESS
        }
        Ok(false) => {
            println!("MISMATCH: results differ from the reference beyond the tolerance");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {}", e);
            ExitCode::FAILURE
        }
    }
}
