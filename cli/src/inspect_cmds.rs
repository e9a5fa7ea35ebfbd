//! `ls`, `show`, `watch` (read-only) and `rm`, `gc` (cleanup). Names are bytes here,
//! taken and printed exactly (`exact_names`), escaped in human output (`escape`).

use mpsync::inspect::cleanup::{self, GcPolicy, RemoveError, Verdict};
use mpsync::inspect::{self, Health, InspectError, ObjectInfo};

use crate::cmdline::Commands;
use crate::exact_names::{self, ExactNames};
use crate::exit;
use crate::name_filter::NameFilter;
use crate::out;
use crate::render;
use crate::unreadable;
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

/// At most this many processes are named in one message.
const NAMED_AT_MOST: usize = 5;

/// "pid 1 (init), uid 0; pid 7 (...), uid 0 and 3 more", or `None` if `procs` is empty.
fn name_processes(procs: &[&unreadable::Process]) -> Option<String> {
    if procs.is_empty() {
        return None;
    }
    let mut s = procs
        .iter()
        .take(NAMED_AT_MOST)
        .map(|p| p.describe(100))
        .collect::<Vec<_>>()
        .join("; ");
    if procs.len() > NAMED_AT_MOST {
        s.push_str(&format!(" and {} more", procs.len() - NAMED_AT_MOST));
    }
    Some(s)
}

/// The processes of `all` whose mappings cannot be read and that could have opened the
/// entry named `name` (all of them if it cannot be inspected).
fn unreadable_for<'a>(all: &'a [unreadable::Process], name: &[u8]) -> Vec<&'a unreadable::Process> {
    match exact_names::inspect(name) {
        Ok((info, _)) => all
            .iter()
            .filter(|p| p.could_open(info.file.uid, info.file.mode))
            .collect(),
        Err(_) => all.iter().collect(),
    }
}

pub fn rm(names: &[Vec<u8>], force: bool, ignore_unreadable: bool) -> i32 {
    let mut code = exit::OK;
    // Looked up once, at the first refusal that needs them.
    let mut unreadable_procs: Option<Vec<unreadable::Process>> = None;
    let mut explain = false;
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
            Err(RemoveError::InUse { pids, unknown }) if pids.is_empty() && unknown != 0 => {
                // Only processes whose mappings cannot be read stop it: say which they
                // are, so that the user can judge whether they could be using it.
                let all = unreadable_procs.get_or_insert_with(unreadable::processes);
                let who = name_processes(&unreadable_for(all, name))
                    .unwrap_or_else(|| format!("{unknown} process(es), gone by now"));
                out::error(&format!(
                    "{shown}: not removed: no process that mpsync can see maps it, but \
                     processes whose mappings cannot be read might: {who}"
                ));
                explain = true;
                exit::BUSY
            }
            Err(RemoveError::InUse { pids, .. }) => {
                let who: Vec<String> = pids.iter().map(u32::to_string).collect();
                out::error(&format!(
                    "{shown}: in use, mapped by {}; not removed (--force removes it anyway)",
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
    if explain {
        out::error(unreadable::WHY);
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
    // The processes that keep entries only because their mappings cannot be read.
    let blocking = unreadable_blocking(policy, report.kept.iter().map(|(i, _)| i));
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
        let procs: Vec<_> = blocking.iter().map(unreadable_json).collect();
        out::line(
            &serde_json::json!({
                "removed": removed,
                "kept": kept,
                "unreadable_processes": procs,
            })
            .to_string(),
        );
    } else {
        for (i, why) in &report.kept {
            out::line(&format!(
                "kept {} ({}): {why}",
                escape::text(exact_name(i)),
                render::type_name(i)
            ));
        }
    }
    if !blocking.is_empty() {
        let refs: Vec<&unreadable::Process> = blocking.iter().collect();
        out::error(&format!(
            "gc: kept entries that only processes whose mappings cannot be read might map: {}",
            name_processes(&refs).unwrap_or_default()
        ));
        out::error(unreadable::WHY);
    }
    code
}

/// The processes whose mappings cannot be read and that could have opened one of the
/// `kept` entries that they alone keep (that `--ignore-unreadable` would remove).
fn unreadable_blocking<'a>(
    policy: &GcPolicy,
    kept: impl Iterator<Item = &'a ObjectInfo>,
) -> Vec<unreadable::Process> {
    let ignoring = GcPolicy {
        ignore_unreadable: true,
        ..policy.clone()
    };
    let files: Vec<(u32, u32)> = kept
        .filter(|i| {
            !policy.ignore_unreadable
                && i.mappers.pids.is_empty()
                && i.mappers.unknown != 0
                && matches!(cleanup::judge(i, &ignoring), Verdict::Remove(_))
        })
        .map(|i| (i.file.uid, i.file.mode))
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
fn unreadable_json(p: &unreadable::Process) -> serde_json::Value {
    let args = p.args.as_deref().unwrap_or_default();
    serde_json::json!({
        "pid": p.pid,
        "uid": p.euid,
        "cmdline": p.args.as_ref().map(|_| args.iter().map(|a| String::from_utf8_lossy(a)).collect::<Vec<_>>()),
        "cmdline_hex": p.args.as_ref().map(|_| args.iter().map(|a| hex::encode(a)).collect::<Vec<_>>()),
        "comm": p.comm.as_ref().map(|c| String::from_utf8_lossy(c)),
    })
}
