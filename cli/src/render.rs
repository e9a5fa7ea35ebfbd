//! How an inspected entry is printed: one line for `ls`, a block for `show`, and JSON
//! (`--json`) with the same fields for both.

use mpsync::inspect::{
    Class, Health, Liveness, ObjectInfo, Owner, RLockState, State, TempCreator, kind_name,
};
use serde_json::{Value, json};

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

fn rlock_text(r: &RLockState) -> String {
    let mut s = match r.owner {
        Some(o) => format!("locked, {}, level {}", owner_text(&o), r.count),
        None if r.died_mark => "free, owner died (next acquirer gets MP_OWNER_DEAD)".into(),
        None => "free".into(),
    };
    if r.waiters {
        s.push_str(", waiters");
    }
    if r.inconsistent {
        s.push_str(", inconsistent");
    }
    s
}

fn temp_text(t: &TempCreator) -> String {
    format!("creator pid {} {}", t.pid, t.liveness.as_str())
}

/// The one-line state summary.
pub fn summary(info: &ObjectInfo) -> String {
    if info.health != Health::Ok && info.health != Health::OwnerDead {
        return info.detail.clone();
    }
    if let Some(t) = &info.temp {
        return temp_text(t);
    }
    let Some(state) = info.state else {
        return String::new();
    };
    match state {
        State::Lock { locked, contended } => match (locked, contended) {
            (false, _) => "free".into(),
            (true, false) => "locked".into(),
            (true, true) => "locked, waiters".into(),
        },
        State::RLock(r) => rlock_text(&r),
        State::Sem { value, max_value } => {
            if max_value == mpsync::SEM_VALUE_MAX {
                format!("value {value}")
            } else {
                format!("value {value} of max {max_value}")
            }
        }
        State::SemUndo => "undo (holders not decoded)".to_string(),
        State::Cond { waiters } => format!("waiters {waiters}"),
        State::Event { set, sleepers } => {
            format!("{}, waiters {sleepers}", if set { "set" } else { "clear" })
        }
        State::Barrier {
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
                Some(r) => format!(", lock {}", rlock_text(&r)),
                None => ", raw".into(),
            };
            format!("'{}'[{length}]{lock}", type_code as char)
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

/// Header line of `ls`.
pub const LS_HEADER: &str =
    "NAME                     TYPE       SIZE      UID   MODE VER HEALTH        MAPPED-BY  STATE";

/// One line of `ls`.
pub fn ls_line(info: &ObjectInfo) -> String {
    format!(
        "{:<24} {:<10} {:>8} {:>6} {:04o} {:>3} {:<13} {:<10} {}",
        info.name,
        type_name(info),
        info.file.size,
        info.file.uid,
        info.file.mode,
        version_text(info),
        info.health.as_str(),
        pids_text(info),
        summary(info)
    )
}

/// The detailed text of `show`.
pub fn show_text(info: &ObjectInfo) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: String| {
        out.push_str(&format!("{k:<14}{v}\n"));
    };
    line("name:", info.name.clone());
    line("type:", type_name(info).into());
    line("class:", info.class.as_str().into());
    line(
        "health:",
        if info.detail.is_empty() {
            info.health.as_str().into()
        } else {
            format!("{} ({})", info.health.as_str(), info.detail)
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
    if let Some(t) = &info.temp {
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
    if let Some(state) = info.state {
        line("state:", summary(info));
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
            }
        }
    }
    line("mapped by:", pids_text(info));
    out
}

fn liveness_json(l: Liveness) -> Value {
    json!(l.as_str())
}

fn rlock_json(r: &RLockState) -> Value {
    json!({
        "locked": r.locked,
        "word": format!("{:#010x}", r.word),
        "count": r.count,
        "waiters": r.waiters,
        "owner_died_mark": r.died_mark,
        "inconsistent": r.inconsistent,
        "cross_namespace": r.cross_ns,
        "owner": r.owner.map(|o| json!({
            "pid": o.pid,
            "tid": o.tid,
            "pidns": o.pidns,
            "liveness": liveness_json(o.liveness),
        })),
    })
}

fn state_json(s: &State) -> Value {
    match *s {
        State::Lock { locked, contended } => json!({"locked": locked, "contended": contended}),
        State::RLock(ref r) => rlock_json(r),
        State::Sem { value, max_value } => json!({
            "value": value,
            "max_value": max_value,
            "bounded": max_value != mpsync::SEM_VALUE_MAX,
        }),
        State::SemUndo => json!({"undo": true}),
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
            "lock": lock.as_ref().map(rlock_json),
        }),
    }
}

/// The JSON object of one entry (`ls --json` lists them, `show --json` prints one).
pub fn to_json(info: &ObjectInfo) -> Value {
    json!({
        "name": info.name,
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
        "state": info.state.as_ref().map(state_json),
        "summary": summary(info),
        "creator": info.temp.map(|t| json!({
            "pid": t.pid,
            "start": t.start,
            "pidns": t.pidns,
            "liveness": liveness_json(t.liveness),
        })),
        "mapped_by": info.mappers.pids,
        "mapped_by_unknown": info.mappers.unknown,
    })
}
