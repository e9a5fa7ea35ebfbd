//! `ls`, `show`, `watch` (read-only) and `rm`, `gc` (cleanup). Names are bytes here,
//! taken and printed exactly (`exact_names`), escaped in human output (`escape`).

use mpsync::inspect::cleanup::{self, GcPolicy, RemoveError};
use mpsync::inspect::{self, Health, InspectError, ObjectInfo};

use crate::cmdline::Commands;
use crate::exact_names::{self, ExactNames};
use crate::exit;
use crate::name_filter::NameFilter;
use crate::out;
use crate::render;
use crate::{escape, hex};

/// The exit code a `show` of this entry ends with: 0 for anything usable (a healthy
/// object, one whose owner died, a block, a temporary file), `BAD_OBJECT` otherwise.
fn verdict_code(info: &ObjectInfo) -> i32 {
    match info.health {
        Health::Ok | Health::OwnerDead => exit::OK,
        Health::Corrupt | Health::WrongVersion | Health::Foreign => exit::BAD_OBJECT,
        Health::Unreadable => exit::PERMISSION,
    }
}

fn inspect_failed(name: impl AsRef<[u8]>, e: InspectError) -> i32 {
    out::error(&format!("{}: {e}", escape::text(name)));
    exit::of_inspect(e)
}

pub fn ls(filter: &NameFilter, json: bool) -> i32 {
    // Scanned first, so that every listed entry is in the scan but one that appeared
    // between the two reads: that one is left out, as if listed a moment earlier.
    let mut exact = ExactNames::scan();
    let list = match inspect::list() {
        Ok(l) => l,
        Err(e) => return inspect_failed(mpsync::inspect::SHM_DIR, e),
    };
    let named: Vec<(&ObjectInfo, Vec<u8>)> = list
        .iter()
        .filter_map(|info| Some((info, exact.of(info)?)))
        .filter(|(_, name)| filter.keeps(name))
        .collect();
    if json {
        let all: Vec<_> = named
            .iter()
            .map(|(info, name)| render::to_json(info, name, &Commands::read(info)))
            .collect();
        out::line(&serde_json::Value::Array(all).to_string());
    } else {
        for line in render::ls_lines(&named) {
            if !out::line(&line) {
                break;
            }
        }
    }
    exit::OK
}

pub fn show(name: &[u8], json: bool) -> i32 {
    match exact_names::inspect(name) {
        Ok((info, exact)) => {
            let cmds = Commands::read(&info);
            if json {
                out::line(&render::to_json(&info, &exact, &cmds).to_string());
            } else {
                out::raw(&render::show_text(&info, &exact, &cmds));
            }
            let code = verdict_code(&info);
            if code != exit::OK {
                out::error(&format!(
                    "{}: {}: {}",
                    escape::text(&exact),
                    info.health.as_str(),
                    escape::text(&info.detail)
                ));
            }
            code
        }
        Err(e) => inspect_failed(name, e),
    }
}

pub fn watch(name: &[u8], interval_ms: u64, count: u64, json: bool) -> i32 {
    use std::io::IsTerminal;
    let clear = !json && std::io::stdout().is_terminal();
    let mut shown = 0u64;
    loop {
        let (info, exact) = match exact_names::inspect(name) {
            Ok(found) => found,
            Err(e) => return inspect_failed(name, e),
        };
        let cmds = Commands::read(&info);
        let text = if json {
            format!("{}\n", render::to_json(&info, &exact, &cmds))
        } else if clear {
            format!("\x1b[H\x1b[2J{}", render::show_text(&info, &exact, &cmds))
        } else {
            format!("{}\n", render::show_text(&info, &exact, &cmds))
        };
        if !out::raw(&text) {
            return exit::OK;
        }
        shown += 1;
        if count != 0 && shown >= count {
            return verdict_code(&info);
        }
        std::thread::sleep(std::time::Duration::from_millis(interval_ms.max(10)));
    }
}

pub fn rm(names: &[Vec<u8>], force: bool, ignore_unreadable: bool) -> i32 {
    let mut code = exit::OK;
    for name in names {
        let shown = escape::text(name);
        let this = match exact_names::remove(name, force, ignore_unreadable) {
            Ok((info, exact)) => {
                out::line(&format!(
                    "removed {} ({})",
                    escape::text(exact),
                    render::type_name(&info)
                ));
                exit::OK
            }
            Err(RemoveError::Inspect(e)) => inspect_failed(name, e),
            Err(RemoveError::InUse { pids, unknown }) => {
                let mut who: Vec<String> = pids.iter().map(u32::to_string).collect();
                let hint = if pids.is_empty() {
                    "--ignore-unreadable or --force removes it anyway"
                } else {
                    "--force removes it anyway"
                };
                if unknown != 0 && pids.is_empty() {
                    who.push(format!(
                        "possibly {unknown} process(es) whose mappings are unreadable"
                    ));
                }
                out::error(&format!(
                    "{shown}: in use, mapped by {}; not removed ({hint})",
                    who.join(", ")
                ));
                exit::BUSY
            }
            Err(RemoveError::NotRegular) => {
                out::error(&format!("{shown}: not a regular file; not removed"));
                exit::BAD_OBJECT
            }
            Err(RemoveError::Unlink(e)) => {
                out::error(&format!(
                    "{shown}: {}",
                    std::io::Error::from_raw_os_error(e)
                ));
                exit::FAILURE
            }
        };
        if code == exit::OK {
            code = this;
        }
    }
    code
}

pub fn gc(policy: &GcPolicy, dry_run: bool, json: bool) -> i32 {
    if !policy.temp_files && !policy.objects && !policy.blocks && !policy.orphans {
        out::error(
            "gc: say what to remove: --temp, --objects, --blocks and/or --orphans (see --help)",
        );
        return exit::USAGE;
    }
    // Scanned before the names are removed. An entry that appeared after the scan is
    // named by its `name` itself: exact, since gc never selects a name that is not
    // UTF-8 (it is foreign).
    let mut exact = ExactNames::scan();
    let report = match cleanup::gc(policy, dry_run) {
        Ok(c) => c,
        Err(e) => return inspect_failed(mpsync::inspect::SHM_DIR, e),
    };
    let mut exact_name = |info: &ObjectInfo| {
        exact
            .of(info)
            .unwrap_or_else(|| info.name.clone().into_bytes())
    };
    let mut code = exit::OK;
    let mut removed = Vec::new();
    for c in &report.collected {
        let name = exact_name(&c.info);
        let failed = c.result.as_ref().err().map(|e| format!("{e:?}"));
        if failed.is_some() && code == exit::OK {
            code = exit::FAILURE;
        }
        if json {
            removed.push(serde_json::json!({
                "name": c.info.name,
                "name_hex": hex::encode(&name),
                "type": render::type_name(&c.info),
                "reason": c.reason,
                "removed": !dry_run && failed.is_none(),
                "error": failed,
            }));
        } else {
            let verb = match (&failed, dry_run) {
                (Some(_), _) => "FAILED to remove",
                (None, true) => "would remove",
                (None, false) => "removed",
            };
            out::line(&format!(
                "{verb} {} ({}): {}{}",
                escape::text(&name),
                render::type_name(&c.info),
                c.reason,
                failed.map_or(String::new(), |f| format!(": {f}"))
            ));
        }
    }
    if json {
        let kept: Vec<_> = report
            .kept
            .iter()
            .map(|(i, why)| {
                serde_json::json!({
                    "name": i.name,
                    "name_hex": hex::encode(&exact_name(i)),
                    "type": render::type_name(i),
                    "reason": why,
                })
            })
            .collect();
        out::line(&serde_json::json!({"removed": removed, "kept": kept}).to_string());
    } else {
        for (i, why) in &report.kept {
            out::line(&format!(
                "kept {} ({}): {why}",
                escape::text(exact_name(i)),
                render::type_name(i)
            ));
        }
    }
    code
}
