// Tells the C-test harness (tests/c_tests.rs) which target triple the cc crate should
// configure its compiler for.
fn main() {
    println!(
        "cargo:rustc-env=MPSYNC_TARGET={}",
        std::env::var("TARGET").unwrap_or_default()
    );
    println!("cargo:rerun-if-changed=build.rs");
}
