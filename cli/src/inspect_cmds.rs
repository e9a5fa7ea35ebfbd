//! `ls`, `show`, `watch` (read-only) and `rm` (cleanup; `gc` has its own file). Names
//! are bytes here, taken and printed exactly (`exact_names`), escaped in human output
//! (`escape`).

use mpsync::inspect::cleanup::RemoveError;
use mpsync::inspect::{self, Health, InspectError, ObjectInfo};

use crate::cmdline::Commands;
use crate::escape;
use crate::exact_names::{self, ExactNames};
use crate::exit;
use crate::name_filter::NameFilter;
use crate::out;
use crate::render;
use crate::unreadable;

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
                let who = unreadable_for(all, name);
                let who = if who.is_empty() {
                    format!("{unknown} process(es), gone by now")
                } else {
                    unreadable::name_all(&who)
                };
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
