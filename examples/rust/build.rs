//! Links libtconv: from the directory in $TCONV_LIB_DIR (e.g. a meson build tree's
//! build/src), otherwise from what `pkg-config --libs tconv` says (an installed tconv).

use std::env;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=TCONV_LIB_DIR");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");

    if let Ok(dir) = env::var("TCONV_LIB_DIR") {
        if !dir.is_empty() {
            println!("cargo:rustc-link-search=native={}", dir);
            println!("cargo:rustc-link-lib=dylib=tconv");
            // So that the binary finds the build tree's library without LD_LIBRARY_PATH.
            println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir);
            return;
        }
    }

    let out = Command::new("pkg-config").args(&["--libs", "tconv"]).output();
    match out {
        Ok(out) if out.status.success() => {
            let flags = String::from_utf8_lossy(&out.stdout).into_owned();
            for flag in flags.split_whitespace() {
                if let Some(dir) = flag.strip_prefix("-L") {
                    println!("cargo:rustc-link-search=native={}", dir);
                } else if let Some(lib) = flag.strip_prefix("-l") {
                    println!("cargo:rustc-link-lib=dylib={}", lib);
                }
            }
        }
        _ => panic!(
            "cannot find libtconv: set TCONV_LIB_DIR to the directory holding libtconv.so \
             (e.g. <repo>/build/src) or install tconv so that `pkg-config --libs tconv` works"
        ),
    }
}
