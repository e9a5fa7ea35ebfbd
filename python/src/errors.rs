//! Exceptions for the constructors of named objects that say which object and why:
//! the object's type and name, and for `MP_EINVAL` the argument at fault (derived here
//! from what was passed, by the library's own rules), for `MP_EBADOBJ` what the name
//! holds instead (from the crate's inspector), for `MP_EACCES` who owns the name.
//! `FileNotFoundError`, `FileExistsError` and `PermissionError` carry the name as
//! `filename`, as the standard library's do.

use mpsync::inspect::{self, Class, Health, ObjectInfo, State};
use mpsync::{Error, OpenOptions};
use pyo3::exceptions::{PyFileExistsError, PyFileNotFoundError, PyPermissionError};
use pyo3::prelude::*;

use crate::{BAD_OBJECT_ERROR, Origin, to_py_with};

/// What a constructor was asked for.
pub(crate) struct Request<'a> {
    /// The Python class, as the message names it ("RLock", "Array", ...).
    pub kind: &'static str,
    /// The object asked for, as a message describes it after "not": "an RLock".
    pub wanted: String,
    pub name: Option<&'a str>,
    pub create: bool,
    pub exclusive: bool,
    pub mode: u32,
    pub any_owner: bool,
    /// Why this type's own arguments are invalid, if they are (checked by the caller
    /// with the library's rules: e.g. a semaphore's value above its bound).
    pub invalid_values: Option<String>,
}

impl Request<'_> {
    /// A request for `kind` with the keyword arguments every named constructor takes.
    pub(crate) fn new<'a>(
        kind: &'static str,
        wanted: impl Into<String>,
        name: Option<&'a str>,
        create: bool,
        exclusive: bool,
        mode: u32,
        any_owner: bool,
    ) -> Request<'a> {
        Request {
            kind,
            wanted: wanted.into(),
            name,
            create,
            exclusive,
            mode,
            any_owner,
            invalid_values: None,
        }
    }

    pub(crate) fn options(&self) -> OpenOptions {
        OpenOptions::new()
            .create(self.create)
            .exclusive(self.exclusive)
            .mode(self.mode)
            .any_owner(self.any_owner)
    }

    /// "RLock 'jobs'", or "RLock" for an unnamed object (and for an invalid name, which
    /// the reason shows).
    fn subject(&self) -> String {
        match self.name {
            Some(n) if name_problem(n).is_none() => format!("{} {}", self.kind, shown(n)),
            _ => self.kind.to_string(),
        }
    }

    /// Turns a library error from opening or creating the object into the exception
    /// that names the object and gives the reason.
    pub(crate) fn error(&self, e: Error) -> PyErr {
        let subject = self.subject();
        if e == Error::Invalid {
            let why = self.invalid_reasons().unwrap_or_else(|| e.message().into());
            return to_py_with(e, format!("{subject}: {why} ({})", e.name()));
        }
        let Some(name) = self.name else {
            return to_py_with(e, format!("{subject}: {e}"));
        };
        match e {
            Error::NotFound => {
                let hint = if self.create {
                    ""
                } else {
                    "; create=True creates it"
                };
                os_error::<PyFileNotFoundError>(
                    libc::ENOENT,
                    format!("no {} of that name ({}{hint})", self.kind, e.name()),
                    name,
                )
            }
            Error::Exists => {
                let holds = match held(name) {
                    Ok(h) => format!(" and holds {h}"),
                    Err(_) => String::new(),
                };
                os_error::<PyFileExistsError>(
                    libc::EEXIST,
                    format!(
                        "cannot create {} (exclusive=True): the name exists{holds} ({})",
                        self.kind,
                        e.name()
                    ),
                    name,
                )
            }
            Error::PermissionDenied => os_error::<PyPermissionError>(
                libc::EACCES,
                format!(
                    "cannot open {}: {} ({})",
                    self.kind,
                    permission_reason(name, self.any_owner),
                    e.name()
                ),
                name,
            ),
            Error::BadObject => {
                let holds = match held(name) {
                    Ok(h) if h == self.wanted => {
                        format!("the name holds {h}, whose parameters do not match")
                    }
                    Ok(h) => format!("the name holds {h}, not {}", self.wanted),
                    Err(why) => format!(
                        "the name does not hold {} (what it holds cannot be read: {why})",
                        self.wanted
                    ),
                };
                BAD_OBJECT_ERROR.new_err(format!("{subject}: {holds} ({})", e.name()))
            }
            e => to_py_with(e, format!("{subject}: {e}")),
        }
    }

    /// Every reason the arguments are invalid, or None if none is known.
    fn invalid_reasons(&self) -> Option<String> {
        let mut reasons = Vec::new();
        if let Some(n) = self.name {
            if let Some(problem) = name_problem(n) {
                reasons.push(problem);
            }
        }
        if self.mode & !0o777 != 0 {
            reasons.push(format!(
                "mode {:#o} is invalid: only permission bits (0o777) are allowed",
                self.mode
            ));
        }
        if self.exclusive && !self.create {
            reasons.push("exclusive=True needs create=True".to_string());
        }
        if let Some(v) = &self.invalid_values {
            reasons.push(v.clone());
        }
        (!reasons.is_empty()).then(|| reasons.join("; "))
    }
}

/// `OSError(errno, strerror, filename)` of class `E`.
fn os_error<E: pyo3::PyTypeInfo>(errno: i32, strerror: String, filename: &str) -> PyErr {
    PyErr::new::<E, _>((errno, strerror, filename.to_string()))
}

/// A name in single quotes, control characters and quotes escaped.
pub(crate) fn quoted(name: &str) -> String {
    format!("'{}'", name.escape_debug())
}

/// [`quoted`], shortened for a message if long (`filename` carries the whole name).
pub(crate) fn shown(name: &str) -> String {
    const SHOWN: usize = 48;
    if name.len() <= SHOWN + 16 {
        return quoted(name);
    }
    let mut end = SHOWN;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!("'{}...'", name[..end].escape_debug())
}

/// The rules the library checks names by, for messages.
const NAME_RULES: &str = "names are [A-Za-z0-9._-], at most NAME_MAX";

/// Why `name` is not a valid object name, or None if it is.
pub(crate) fn name_problem(name: &str) -> Option<String> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    let problem = if bare.is_empty() {
        "it is empty".to_string()
    } else if bare.len() > mpsync::NAME_MAX {
        format!("it is {} bytes long", bare.len())
    } else if bare == "." || bare == ".." {
        format!("{} is not a name", quoted(bare))
    } else if let Some(c) = bare
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        format!("{} is not allowed", quoted(&c.to_string()))
    } else {
        return None;
    };
    Some(format!(
        "name {} is invalid ({problem}): {NAME_RULES} ({}) bytes, after an optional leading '/', \
         and not '.' or '..'",
        shown(name),
        mpsync::NAME_MAX
    ))
}

/// What the name `name` holds, in the package's terms, from the crate's inspector.
pub(crate) fn held(name: &str) -> Result<String, String> {
    let info = inspect::inspect(name).map_err(|e| e.to_string())?;
    Ok(describe(&info))
}

fn describe(info: &ObjectInfo) -> String {
    let detail = |what: &str| {
        if info.detail.is_empty() {
            what.to_string()
        } else {
            format!("{what} ({})", info.detail)
        }
    };
    match (info.class, info.health) {
        (Class::Block, _) => "a SharedMemory block (not a libmpsync object)".to_string(),
        (Class::TempFile, _) => "a libmpsync temporary creation file".to_string(),
        (Class::Foreign, _) => detail("something that is not a libmpsync object"),
        (_, Health::WrongVersion) => detail("a libmpsync object of another layout version"),
        (_, Health::Corrupt) => detail("a damaged libmpsync object"),
        (_, Health::Unreadable) => "something this process may not read".to_string(),
        _ => match (&info.state, info.kind) {
            (Some(state), _) => describe_state(state),
            (None, Some(kind)) => format!("a libmpsync {}", inspect::kind_name(kind)),
            (None, None) => "a libmpsync object of an unknown kind".to_string(),
        },
    }
}

fn describe_state(state: &State) -> String {
    match state {
        State::Lock { .. } => "an mpsync.Lock".to_string(),
        State::RLock(_) => "an mpsync.RLock".to_string(),
        State::Sem { max_value, .. } if *max_value == mpsync::SEM_VALUE_MAX => {
            "a Semaphore".to_string()
        }
        State::Sem { max_value, .. } => format!("a BoundedSemaphore (maxvalue={max_value})"),
        State::SemUndo(_) => "an undo Semaphore (undo=True)".to_string(),
        State::RwLock(_) => "an RWLock".to_string(),
        State::Cond { .. } => "a Condition".to_string(),
        State::Event { .. } => "an Event".to_string(),
        State::Barrier { parties, .. } => format!("a Barrier (parties={parties})"),
        State::Array {
            type_code,
            length,
            lock,
            ..
        } => describe_array(*type_code, *length, lock.is_some()),
        State::Queue { capacity, .. } => format!("a queue of capacity {capacity}"),
    }
}

/// "an array of type 'i', length 4, with a lock" (what `mp_array_open` matches on).
pub(crate) fn describe_array(type_code: u8, length: u64, with_lock: bool) -> String {
    let lock = if with_lock {
        "with a lock"
    } else {
        "without a lock"
    };
    format!(
        "an array of type '{}', length {length}, {lock}",
        (type_code as char).escape_debug()
    )
}

/// Why opening `name` was denied: another user's name, or its permission bits.
fn permission_reason(name: &str, any_owner: bool) -> String {
    let bare = name.strip_prefix('/').unwrap_or(name);
    let path = format!("{}{bare}", inspect::SHM_DIR);
    let Ok(meta) = std::fs::symlink_metadata(&path) else {
        return "permission denied".to_string();
    };
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if meta.uid() != euid && !any_owner {
        format!(
            "the name belongs to uid {}, not to this process's user (uid {euid}); \
             any_owner=True opens another user's object (pass it only if that user is trusted)",
            meta.uid()
        )
    } else {
        format!(
            "the name's permission bits ({:#o}, owner uid {}) deny this process (uid {euid}) \
             reading and writing it",
            meta.mode() & 0o777,
            meta.uid()
        )
    }
}

/// How an error on an existing object names it: "Lock 'jobs'", or "Lock (anonymous)"
/// for one made without a name (its generated name says nothing to the reader).
pub(crate) fn subject(kind: &str, origin: &Origin) -> String {
    if origin.anonymous {
        format!("{kind} (anonymous)")
    } else {
        format!("{kind} {}", shown(&origin.name))
    }
}

/// The exception for library error `e` from operation `op` on an existing object,
/// described by [`subject`]: the class [`to_py_with`](crate::to_py_with) gives, with the message
/// "Lock 'jobs': release: released too many times (...) (MP_EOVERFLOW)".
pub(crate) fn to_py_for(kind: &str, origin: &Origin, op: &str, e: Error) -> PyErr {
    to_py_about(&subject(kind, origin), op, e)
}

/// [`to_py_for`] for an object described by `subject` (e.g. an array's lock).
pub(crate) fn to_py_about(subject: &str, op: &str, e: Error) -> PyErr {
    to_py_with(e, format!("{subject}: {op}: {e}"))
}

/// [`to_py_for`] as a `map_err` argument: `.map_err(err_for("Lock", &origin, "release"))`.
pub(crate) fn err_for<'a>(
    kind: &'a str,
    origin: &'a Origin,
    op: &'a str,
) -> impl Fn(Error) -> PyErr + 'a {
    move |e| to_py_for(kind, origin, op, e)
}
