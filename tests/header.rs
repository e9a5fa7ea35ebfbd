//! Header freshness: `include/mpsync.h` must be exactly what cbindgen generates from
//! the current sources. Run with `MPSYNC_BLESS=1` to rewrite it.

use std::path::PathBuf;

#[test]
fn header_is_up_to_date() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen failed");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let path = crate_dir.join("include/mpsync.h");
    if std::env::var_os("MPSYNC_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write header");
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    if committed != generated {
        panic!(
            "include/mpsync.h is stale: regenerate it with `MPSYNC_BLESS=1 cargo test --test header` and commit it"
        );
    }
}
