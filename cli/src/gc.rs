//! `mpsync gc`: removes what is provably abandoned (the rules are `gc_sweep`'s), and
//! reports every selected entry as removed or kept, with the reason; names the
//! processes whose unreadable mappings alone kept entries (`unreadable`).

use mpsync::inspect::ObjectInfo;
use mpsync::inspect::cleanup::{GcPolicy, Verdict};
use serde_json::{Value, json};

use crate::exit;
use crate::gc_sweep::{self, Kept, Rules};
use crate::out;
use crate::render;
use crate::unreadable;
use crate::{escape, hex};

pub fn gc(rules: &Rules, dry_run: bool, json: bool) -> i32 {
    let p = &rules.policy;
    if !p.temp_files && !p.objects && !p.blocks && !p.orphans {
        out::error(
            "gc: say what to remove: --temp, --objects, --blocks and/or --orphans (see --help)",
        );
        return exit::USAGE;
    }
    let report = match gc_sweep::sweep(rules, dry_run) {
        Ok(r) => r,
        Err(e) => {
            out::error(&format!("{}: {e}", escape::text(mpsync::inspect::SHM_DIR)));
            return exit::of_inspect(e);
        }
    };
    let mut code = exit::OK;
    let mut removed = Vec::new();
    for c in &report.collected {
        if c.error.is_some() && code == exit::OK {
            code = exit::FAILURE;
        }
        if json {
            removed.push(json!({
                "name": c.info.name,
                "name_hex": hex::encode(&c.name),
                "type": render::type_name(&c.info),
                "reason": c.reason,
                "removed": !dry_run && c.error.is_none(),
                "error": c.error,
            }));
        } else {
            let verb = match (&c.error, dry_run) {
                (Some(_), _) => "FAILED to remove",
                (None, true) => "would remove",
                (None, false) => "removed",
            };
            out::line(&format!(
                "{verb} {} ({}): {}{}",
                escape::text(&c.name),
                render::type_name(&c.info),
                c.reason,
                c.error
                    .as_ref()
                    .map_or(String::new(), |e| format!(": {}", escape::text(e)))
            ));
        }
    }
    let blocking = unreadable_blocking(rules, &report.kept);
    if json {
        let kept: Vec<Value> = report
            .kept
            .iter()
            .map(|k| {
                json!({
                    "name": k.info.name,
                    "name_hex": hex::encode(&k.name),
                    "type": render::type_name(&k.info),
                    "reason": k.reason,
                })
            })
            .collect();
        let procs: Vec<Value> = blocking.iter().map(unreadable_json).collect();
        out::line(
            &json!({
                "removed": removed,
                "kept": kept,
                "unreadable_processes": procs,
            })
            .to_string(),
        );
    } else {
        for k in &report.kept {
            out::line(&format!(
                "kept {} ({}): {}",
                escape::text(&k.name),
                render::type_name(&k.info),
                k.reason
            ));
        }
    }
    if !blocking.is_empty() {
        let refs: Vec<&unreadable::Process> = blocking.iter().collect();
        out::error(&format!(
            "gc: kept entries that only processes whose mappings cannot be read might map: {}",
            unreadable::name_all(&refs)
        ));
        out::error(unreadable::WHY);
    }
    code
}

/// The processes whose mappings cannot be read and that could have opened one of the
/// `kept` entries that they alone keep (that `--ignore-unreadable` would remove).
fn unreadable_blocking(rules: &Rules, kept: &[Kept]) -> Vec<unreadable::Process> {
    if rules.policy.ignore_unreadable {
        return Vec::new();
    }
    let ignoring = Rules {
        policy: GcPolicy {
            ignore_unreadable: true,
            ..rules.policy.clone()
        },
        owner_dead: rules.owner_dead,
        filter: Default::default(),
    };
    let only_them = |i: &ObjectInfo| {
        i.mappers.pids.is_empty()
            && i.mappers.unknown != 0
            && matches!(ignoring.judge(i), Verdict::Remove(_))
    };
    let files: Vec<(u32, u32)> = kept
        .iter()
        .filter(|k| only_them(&k.info))
        .map(|k| (k.info.file.uid, k.info.file.mode))
        .collect();
    if files.is_empty() {
        return Vec::new();
    }
    unreadable::processes()
        .into_iter()
        .filter(|p| files.iter().any(|&(uid, mode)| p.could_open(uid, mode)))
        .collect()
}

/// A process whose mappings cannot be read, in JSON: its command line as `show` gives
/// an owner's (`cmdline`, `cmdline_hex`), and `comm`.
fn unreadable_json(p: &unreadable::Process) -> Value {
    let lossy = |args: &Vec<Vec<u8>>| -> Vec<String> {
        args.iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect()
    };
    let hexes =
        |args: &Vec<Vec<u8>>| -> Vec<String> { args.iter().map(|a| hex::encode(a)).collect() };
    json!({
        "pid": p.pid,
        "uid": p.euid,
        "cmdline": p.args.as_ref().map(lossy),
        "cmdline_hex": p.args.as_ref().map(hexes),
        "comm": p.comm.as_ref().map(|c| String::from_utf8_lossy(c).into_owned()),
    })
}
