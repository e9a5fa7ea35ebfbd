//! How an inspected entry is printed: one line of a table for `ls`, a block for `show`, and JSON
//! (`--json`) with the same fields for both. Every function takes the entry's exact
//! name (bytes, see `exact_names`): the human forms print it escaped (`escape`), the
//! JSON carries it reversibly as `name_hex`.

use mpsync::inspect::{
    Class, Creator, Health, HolderState, Liveness, ObjectInfo, Owner, QueueConsumer, RLockState,
    RwLockState, SemUndoState, State, UndoHolder, kind_name,
};
use serde_json::{Value, json};

use crate::cmdline::Commands;
use crate::table::{self, Align, Column};
use crate::{escape, hex};

/// `TYPE` column: the object kind, or the entry's class.
pub fn type_name(info: &ObjectInfo) -> &'static str {
    match (info.class, info.kind) {
        (Class::Object, Some(k)) => kind_name(k),
        (Class::Object, None) => "unknown",
        (c, _) => c.as_str(),
    }
}

fn owner_text(o: &Owner) -> String {
    let pid = o.pid.map_or("?".to_string(), |p| p.to_string());
    format!("owner {pid}/{} {}", o.tid, o.liveness.as_str())
}

/// `mode`: say whether the lock is sticky (an array's lock always is: not said).
fn rlock_text(r: &RLockState, mode: bool) -> String {
    let mut s = match r.owner {
        Some(o) => format!("locked, {}, level {}", owner_text(&o), r.count),
        None if r.died_mark => "free, owner died (next acquirer gets MP_OWNER_DEAD)".into(),
        None => "free".into(),
    };
    if r.waiters {
        s.push_str(", waiters");
    }
    if r.inconsistent {
        s.push_str(
            ", inconsistent: repair pending (every acquirer gets MP_OWNER_DEAD until a holder marks it consistent)",
        );
    } else if mode && r.sticky {
        s.push_str(", sticky");
    }
    s
}

/// The writer (or its death), then every reader slot in use with its liveness.
/// A queue's consumers holding unfinished messages, and the abandoned count.
fn consumers_text(consumers: &[QueueConsumer], abandoned: u64) -> String {
    let holding: Vec<String> = consumers
        .iter()
        .filter(|c| c.taken != 0)
        .map(|c| format!("{} holds {} ({})", c.pid, c.taken, c.liveness.as_str()))
        .collect();
    let mut text = String::new();
    if !holding.is_empty() {
        text = format!(", consumers {}", holding.join(", "));
    }
    if abandoned != 0 {
        text += &format!(", abandoned {abandoned}");
    }
    text
}

fn rwlock_text(r: &RwLockState) -> String {
    let mut parts = Vec::new();
    match r.writer {
        Some(o) => parts.push(format!("write-locked, writer {}", &owner_text(&o)[6..])),
        None if r.writer_died_mark => {
            parts.push("writer died (next acquirer gets MP_OWNER_DEAD)".into())
        }
        None if r.read_phase => parts.push("read phase".into()),
        None => {}
    }
    let held: Vec<String> = r
        .readers
        .iter()
        .map(|x| match (x.state, x.owner) {
            (HolderState::Held, Some(o)) => {
                let pid = o.pid.map_or("?".to_string(), |p| p.to_string());
                format!("{pid}/{} {} level {}", o.tid, o.liveness.as_str(), x.level)
            }
            (HolderState::Dead, _) => format!("slot {} dead", x.slot),
            (HolderState::Reclaimed, _) => format!("slot {} death report waiting", x.slot),
            (state, _) => format!("slot {} {}", x.slot, state.as_str()),
        })
        .collect();
    if !held.is_empty() {
        parts.push(format!("readers {}: {}", held.len(), held.join(", ")));
    }
    if parts.is_empty() {
        parts.push("free".into());
    }
    if r.waiters {
        parts.push("waiters".into());
    }
    parts.join(", ")
}

/// `value V of max M`, then what the holders have (parts that are 0 left out).
fn sem_undo_text(u: &SemUndoState) -> String {
    let mut s = format!("value {} of max {}", u.value, u.max_value);
    let live_holders = u.holders.iter().filter(|h| h.live_units() > 0).count();
    let (live, dead, cached) = (u.live_units(), u.dead_units(), u.cached_units());
    if live > 0 {
        let plural = if live_holders == 1 { "" } else { "s" };
        s.push_str(&format!(", held {live} by {live_holders} holder{plural}"));
    }
    if dead > 0 {
        s.push_str(&format!(", dead holders' {dead} coming back"));
    }
    if cached > 0 {
        s.push_str(&format!(", cached {cached}"));
    }
    if u.deaths_waiting || u.holders.iter().any(|h| h.state == HolderState::Reclaimed) {
        s.push_str(", death report waiting");
    }
    if u.holders.iter().any(|h| h.state == HolderState::Unknown) {
        s.push_str(", damaged slots");
    }
    if u.sleepers > 0 {
        s.push_str(&format!(", waiters {}", u.sleepers));
    }
    s
}

/// What `show` prints for an owner's command line: its arguments escaped one by one
/// and joined by spaces (an argument's own spaces are kept, so JSON's `cmdline_hex` is
/// the exact form), or "unknown".
fn command_text(args: Option<&[Vec<u8>]>) -> String {
    match args {
        Some(args) => args.iter().map(escape::text).collect::<Vec<_>>().join(" "),
        None => "unknown".into(),
    }
}

/// One holder slot for `show`.
fn holder_text(h: &UndoHolder, cmds: &Commands) -> String {
    let units = match h.state {
        HolderState::Idle => format!("idle, {} cached", h.units),
        HolderState::Held => format!("held {}", h.units),
        HolderState::Dead => format!("dead, {} coming back", h.units),
        HolderState::Reclaimed => "reclaimed, death not reported yet".to_string(),
        HolderState::Unknown => format!("unknown word {:#010x}", h.word),
    };
    let mut s = units;
    if let Some(o) = h.owner {
        s.push_str(&format!(
            ", pid {}, tid {}, start {}, pid namespace {}: {}",
            o.pid.map_or("unrecorded".into(), |p| p.to_string()),
            o.tid,
            h.start,
            o.pidns,
            o.liveness.as_str()
        ));
    }
    for (on, what) in [
        (h.pending, "operation in flight"),
        (h.linked, "linked"),
        (h.waiters, "waiters"),
    ] {
        if on {
            s.push_str(", ");
            s.push_str(what);
        }
    }
    // Last: a command line may be long, and holds any text.
    if let Some(o) = &h.owner {
        s.push_str(", command: ");
        s.push_str(&command_text(cmds.of(o)));
    }
    s
}

fn temp_text(t: &Creator) -> String {
    format!("creator pid {} {}", t.pid, t.liveness.as_str())
}

/// The one-line state summary.
pub fn summary(info: &ObjectInfo) -> String {
    if info.health != Health::Ok && info.health != Health::OwnerDead {
        return info.detail.clone();
    }
    if let Some(t) = info.creator.filter(|_| info.class == Class::TempFile) {
        return temp_text(&t);
    }
    let Some(state) = &info.state else {
        return String::new();
    };
    match state {
        State::Lock { locked, contended } => match (locked, contended) {
            (false, _) => "free".into(),
            (true, false) => "locked".into(),
            (true, true) => "locked, waiters".into(),
        },
        State::RLock(r) => rlock_text(r, true),
        &State::Sem { value, max_value } => {
            if max_value == mpsync::SEM_VALUE_MAX {
                format!("value {value}")
            } else {
                format!("value {value} of max {max_value}")
            }
        }
        State::SemUndo(u) => sem_undo_text(u),
        State::RwLock(r) => rwlock_text(r),
        State::Cond { waiters } => format!("waiters {waiters}"),
        State::Queue {
            capacity,
            used,
            messages,
            closed,
            getters,
            putters,
            joiners,
            lock,
            abandoned,
            consumers,
            ..
        } => format!(
            "messages {messages}, {used} of {capacity} bytes ({}%), waiters get {getters} put {putters} join {joiners}{}, lock {}{}",
            used.saturating_mul(100).checked_div(*capacity).unwrap_or(0),
            if *closed { ", closed" } else { "" },
            rlock_text(lock, false),
            consumers_text(consumers, *abandoned)
        ),
        &State::Event { set, sleepers } => {
            format!("{}, waiters {sleepers}", if set { "set" } else { "clear" })
        }
        &State::Barrier {
            parties,
            n_waiting,
            broken,
            ..
        } => format!(
            "parties {parties}, n_waiting {n_waiting}{}",
            if broken { ", broken" } else { "" }
        ),
        State::Array {
            type_code,
            length,
            lock,
            ..
        } => {
            let lock = match lock {
                Some(r) => format!(", lock {}", rlock_text(r, false)),
                None => ", raw".into(),
            };
            format!("'{}'[{length}]{lock}", *type_code as char)
        }
    }
}

fn pids_text(info: &ObjectInfo) -> String {
    let mut s: Vec<String> = info.mappers.pids.iter().map(u32::to_string).collect();
    if info.mappers.unknown != 0 {
        s.push(format!("?{}", info.mappers.unknown));
    }
    if s.is_empty() {
        "-".into()
    } else {
        s.join(",")
    }
}

fn version_text(info: &ObjectInfo) -> String {
    info.header.map_or("-".into(), |h| h.layout.to_string())
}

/// The columns of `ls`; the widths of all but STATE (the last, never padded) follow the
/// longest cell, with the old fixed widths as their smallest.
const LS_COLUMNS: [Column; 9] = [
    Column {
        title: "NAME",
        align: Align::Left,
        min_width: 24,
    },
    Column {
        title: "TYPE",
        align: Align::Left,
        min_width: 14,
    },
    Column {
        title: "SIZE",
        align: Align::Right,
        min_width: 8,
    },
    Column {
        title: "UID",
        align: Align::Right,
        min_width: 6,
    },
    Column {
        title: "MODE",
        align: Align::Left,
        min_width: 4,
    },
    Column {
        title: "VER",
        align: Align::Right,
        min_width: 3,
    },
    Column {
        title: "HEALTH",
        align: Align::Left,
        min_width: 13,
    },
    Column {
        title: "MAPPED-BY",
        align: Align::Left,
        min_width: 10,
    },
    Column {
        title: "STATE",
        align: Align::Left,
        min_width: 0,
    },
];

/// The cells of `ls` for the entry `info` named exactly `name`: all escaped or written
/// by mpsync, so none holds a control character or a line break.
fn ls_cells(info: &ObjectInfo, name: &[u8]) -> Vec<String> {
    vec![
        escape::text(name),
        type_name(info).to_string(),
        info.file.size.to_string(),
        info.file.uid.to_string(),
        format!("{:04o}", info.file.mode),
        version_text(info),
        info.health.as_str().to_string(),
        pids_text(info),
        escape::text(summary(info)),
    ]
}

/// The lines of `ls` (its header first) for the entries `rows`, each with its exact name.
pub fn ls_lines(rows: &[(&ObjectInfo, Vec<u8>)]) -> Vec<String> {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|(info, name)| ls_cells(info, name))
        .collect();
    table::lines(&LS_COLUMNS, &cells)
}

/// The detailed text of `show` for the entry `info` named exactly `name`, whose live
/// owners' command lines are `cmds`.
pub fn show_text(info: &ObjectInfo, name: &[u8], cmds: &Commands) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: String| {
        out.push_str(&format!("{k:<14}{v}\n"));
    };
    line("name:", escape::text(name));
    line("type:", type_name(info).into());
    line("class:", info.class.as_str().into());
    line(
        "health:",
        if info.detail.is_empty() {
            info.health.as_str().into()
        } else {
            format!("{} ({})", info.health.as_str(), escape::text(&info.detail))
        },
    );
    line(
        "file:",
        format!(
            "{} bytes, uid {}, mode {:04o}, inode {}",
            info.file.size, info.file.uid, info.file.mode, info.file.ino
        ),
    );
    if let Some(h) = info.header {
        line(
            "header:",
            format!(
                "magic {:#010x}, kind code {}, layout version {}, lifecycle {}",
                h.magic, h.kind_code, h.layout, h.lifecycle
            ),
        );
    }
    if let Some(t) = &info.creator {
        line(
            "creator:",
            format!(
                "pid {}, start {}, pid namespace {}: {}",
                t.pid,
                t.start,
                t.pidns,
                t.liveness.as_str()
            ),
        );
    }
    if let Some(state) = &info.state {
        line("state:", escape::text(summary(info)));
        if let State::SemUndo(u) = state {
            line(
                "units:",
                format!(
                    "{} available, {} held by live holders, {} of dead holders coming back, {} cached in idle slots",
                    u.value,
                    u.live_units(),
                    u.dead_units(),
                    u.cached_units()
                ),
            );
            if u.holders.is_empty() {
                line("holders:", "none".into());
            }
            for h in &u.holders {
                line(&format!("slot {}:", h.slot), holder_text(h, cmds));
            }
        }
        if let Some(r) = state.rlock() {
            line("lock word:", format!("{:#010x}", r.word));
            if let Some(o) = r.owner {
                line(
                    "owner:",
                    format!(
                        "pid {}, tid {}, pid namespace {}: {}",
                        o.pid.map_or("unrecorded".into(), |p| p.to_string()),
                        o.tid,
                        o.pidns,
                        o.liveness.as_str()
                    ),
                );
                line("command:", command_text(cmds.of(&o)));
            }
        }
    }
    line("mapped by:", pids_text(info));
    out
}

fn liveness_json(l: Liveness) -> Value {
    json!(l.as_str())
}

/// `cmdline` (the arguments made UTF-8, invalid bytes replaced by U+FFFD) and
/// `cmdline_hex` (their exact bytes in hex), both null if unknown.
fn command_json(args: Option<&[Vec<u8>]>) -> (Value, Value) {
    match args {
        Some(args) => (
            args.iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect(),
            args.iter().map(|a| hex::encode(a)).collect(),
        ),
        None => (Value::Null, Value::Null),
    }
}

fn rlock_json(r: &RLockState, cmds: &Commands) -> Value {
    json!({
        "locked": r.locked,
        "word": format!("{:#010x}", r.word),
        "count": r.count,
        "waiters": r.waiters,
        "owner_died_mark": r.died_mark,
        "inconsistent": r.inconsistent,
        "sticky": r.sticky,
        "cross_namespace": r.cross_ns,
        "owner": r.owner.map(|o| owner_json(&o, cmds)),
    })
}

fn owner_json(o: &Owner, cmds: &Commands) -> Value {
    let (cmdline, cmdline_hex) = command_json(cmds.of(o));
    json!({
        "pid": o.pid,
        "tid": o.tid,
        "pidns": o.pidns,
        "liveness": liveness_json(o.liveness),
        "cmdline": cmdline,
        "cmdline_hex": cmdline_hex,
    })
}

fn rwlock_json(r: &RwLockState, cmds: &Commands) -> Value {
    json!({
        "word": format!("{:#010x}", r.word),
        "writer": r.writer.map(|o| owner_json(&o, cmds)),
        "writer_died_mark": r.writer_died_mark,
        "read_phase": r.read_phase,
        "waiters": r.waiters,
        "cross_namespace": r.cross_ns,
        "readers": r.readers.iter().map(|x| json!({
            "slot": x.slot,
            "state": x.state.as_str(),
            "level": x.level,
            "owner": x.owner.map(|o| owner_json(&o, cmds)),
        })).collect::<Vec<_>>(),
    })
}

fn holder_json(h: &UndoHolder, cmds: &Commands) -> Value {
    let (cmdline, cmdline_hex) = command_json(h.owner.as_ref().and_then(|o| cmds.of(o)));
    json!({
        "slot": h.slot,
        "state": h.state.as_str(),
        "word": format!("{:#010x}", h.word),
        "units": h.units,
        "pending": h.pending,
        "linked": h.linked,
        "waiters": h.waiters,
        "pid": h.owner.and_then(|o| o.pid),
        "tid": h.owner.map(|o| o.tid),
        "pidns": h.owner.map(|o| o.pidns),
        "start": h.owner.map(|_| h.start),
        "liveness": h.owner.map(|o| liveness_json(o.liveness)),
        "cmdline": cmdline,
        "cmdline_hex": cmdline_hex,
    })
}

fn state_json(s: &State, cmds: &Commands) -> Value {
    match *s {
        State::Lock { locked, contended } => json!({"locked": locked, "contended": contended}),
        State::RLock(ref r) => rlock_json(r, cmds),
        State::Queue {
            capacity,
            used,
            messages,
            max_messages,
            unfinished,
            closed,
            getters,
            putters,
            joiners,
            ref lock,
            abandoned,
            ref consumers,
        } => json!({
            "capacity": capacity,
            "used_bytes": used,
            "messages": messages,
            "max_messages": max_messages,
            "unfinished": unfinished,
            "closed": closed,
            "waiters": {"get": getters, "put": putters, "join": joiners},
            "lock": rlock_json(lock, cmds),
            "abandoned": abandoned,
            "consumers": consumers.iter().map(|c| json!({
                "slot": c.slot,
                "pid": c.pid,
                "pidns": c.pidns,
                "taken": c.taken,
                "liveness": c.liveness.as_str(),
            })).collect::<Vec<_>>(),
        }),
        State::Sem { value, max_value } => json!({
            "value": value,
            "max_value": max_value,
            "bounded": max_value != mpsync::SEM_VALUE_MAX,
        }),
        State::SemUndo(ref u) => json!({
            "value": u.value,
            "max_value": u.max_value,
            "undo": true,
            "deaths_waiting": u.deaths_waiting,
            "sleepers": u.sleepers,
            "cross_namespace": u.cross_ns,
            "held_units": u.live_units(),
            "dead_units": u.dead_units(),
            "cached_units": u.cached_units(),
            "holding": u.holding(),
            "holders": u.holders.iter().map(|h| holder_json(h, cmds)).collect::<Vec<_>>(),
        }),
        State::RwLock(ref r) => rwlock_json(r, cmds),
        State::Cond { waiters } => json!({"waiters": waiters}),
        State::Event { set, sleepers } => json!({"set": set, "waiters": sleepers}),
        State::Barrier {
            parties,
            n_waiting,
            broken,
            generation,
        } => json!({
            "parties": parties,
            "n_waiting": n_waiting,
            "broken": broken,
            "generation": generation,
        }),
        State::Array {
            type_code,
            length,
            item_size,
            ref lock,
        } => json!({
            "element_type": (type_code as char).to_string(),
            "length": length,
            "item_size": item_size,
            "lock": lock.as_ref().map(|r| rlock_json(r, cmds)),
        }),
    }
}

/// The JSON object of the entry `info` named exactly `name`, whose live owners' command
/// lines are `cmds` (`ls --json` lists them, `show --json` prints one). `name` is the
/// name made UTF-8 (a non-UTF-8 name's invalid bytes replaced by U+FFFD), `name_hex`
/// its exact bytes.
pub fn to_json(info: &ObjectInfo, name: &[u8], cmds: &Commands) -> Value {
    json!({
        "name": info.name,
        "name_hex": hex::encode(name),
        "class": info.class.as_str(),
        "type": type_name(info),
        "health": info.health.as_str(),
        "detail": info.detail,
        "size": info.file.size,
        "uid": info.file.uid,
        "mode": format!("{:04o}", info.file.mode),
        "inode": info.file.ino,
        "layout_version": info.header.map(|h| h.layout),
        "header": info.header.map(|h| json!({
            "magic": format!("{:#010x}", h.magic),
            "kind_code": h.kind_code,
            "layout_version": h.layout,
            "lifecycle": h.lifecycle,
        })),
        "state": info.state.as_ref().map(|s| state_json(s, cmds)),
        "summary": summary(info),
        "creator": info.creator.map(|t| json!({
            "pid": t.pid,
            "start": t.start,
            "pidns": t.pidns,
            "liveness": liveness_json(t.liveness),
        })),
        "mapped_by": info.mappers.pids,
        "mapped_by_unknown": info.mappers.unknown,
    })
}
