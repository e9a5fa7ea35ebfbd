//! Header freshness: `include/mpsync_cluster.h` must be exactly what cbindgen generates
//! from cluster/src/ffi. Run with `MPSYNC_BLESS=1` to rewrite it.

use std::path::PathBuf;

#[test]
fn header_is_fresh() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).unwrap();
    let mut out = Vec::new();
    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen")
        .write(&mut out);
    let generated = String::from_utf8(out).unwrap();
    let path = crate_dir.join("../include/mpsync_cluster.h");
    if std::env::var_os("MPSYNC_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/mpsync_cluster.h is stale: run MPSYNC_BLESS=1 cargo test -p mpsync-cluster --test header"
    );
}

/// Every exported function documents its safety contract and thread safety.
#[test]
fn every_function_states_its_contract() {
    let header = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../include/mpsync_cluster.h"),
    )
    .unwrap();
    let blocks: Vec<&str> = header.split("/**").skip(1).collect();
    let mut functions = 0;
    for block in blocks {
        let Some(decl) = block.split("*/").nth(1) else {
            continue;
        };
        let Some(name) = decl
            .split('(')
            .next()
            .and_then(|d| d.split_whitespace().last())
        else {
            continue;
        };
        if !decl.contains('(') || !name.starts_with("mp_cluster_") {
            continue;
        }
        functions += 1;
        assert!(block.contains("Safety:"), "{name}: no Safety: line");
        assert!(block.contains("MT:"), "{name}: no MT: line");
        assert!(block.contains("Returns"), "{name}: no Returns line");
    }
    assert!(functions >= 15, "only {functions} functions found");
}
