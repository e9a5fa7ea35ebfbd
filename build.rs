// Builds the initial-exec TLS slot (src/sys/tls.c), and tells the C-test harness (tests/c_tests.rs) which target triple the cc crate should
// configure its compiler for.
fn main() {
    println!(
        "cargo:rustc-env=MPSYNC_TARGET={}",
        std::env::var("TARGET").unwrap_or_default()
    );
    println!("cargo:rerun-if-changed=build.rs");
    // The per-thread slot in initial-exec TLS (see the file's comment).
    println!("cargo:rerun-if-changed=src/sys/tls.c");
    cc::Build::new()
        .file("src/sys/tls.c")
        .opt_level(2)
        .compile("mpsync_tls");
}
