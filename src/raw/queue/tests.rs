use super::*;
use crate::sys::time::Timeout;
use std::sync::Arc;

/// A queue in private memory (8-aligned), as a mapping would hold it.
struct Mem(Vec<u64>);

// SAFETY: the queue's state is atomics; the ring is written only under its lock (and
// read without it only through `sys::racy_copy`).
unsafe impl Send for Mem {}
// SAFETY: as above.
unsafe impl Sync for Mem {}

impl Mem {
    fn new(capacity: usize, max_count: u64) -> Arc<Mem> {
        let total = total_size(capacity).unwrap();
        let mem = Mem(vec![0u64; total.div_ceil(8)]);
        mem.raw().init(capacity, max_count, Lifecycle::Anonymous);
        Arc::new(mem)
    }
    fn len(&self) -> usize {
        RING_OFFSET + self.raw().capacity.load(Ordering::Relaxed) as usize
    }
    fn raw(&self) -> &RawQueue {
        // SAFETY: at least RING_OFFSET bytes, 8-aligned; any bit pattern is valid.
        unsafe { &*(self.0.as_ptr() as *const RawQueue) }
    }
    fn view(&self) -> MpResult<QueueView<'_>> {
        // SAFETY: self.0 holds at least `len()` bytes (allocated for the capacity).
        unsafe { RawQueue::view(self.0.as_ptr() as *mut u8, self.len()) }
    }
}

fn put(v: &QueueView<'_>, msg: &[u8], t: Timeout) -> Status {
    v.put_many(t, 1, |_| msg)
}

fn get(v: &QueueView<'_>, t: Timeout) -> Result<Vec<u8>, Status> {
    let mut buf = Vec::new();
    // SAFETY: the sink returns a buffer of exactly `len` bytes.
    unsafe {
        v.get_many(t, 1, |_, len| {
            buf.resize(len, 0);
            Some(buf.as_mut_ptr())
        })
    }?;
    Ok(buf)
}

const NOW: Timeout = Timeout::NOW;

#[test]
fn fifo_with_wrap_around() {
    let m = Mem::new(64, 0);
    let v = m.view().unwrap();
    for round in 0..100u32 {
        let a = round.to_le_bytes().repeat(1 + round as usize % 5);
        assert_eq!(put(&v, &a, NOW), Status::Ok);
        assert_eq!(put(&v, b"x", NOW), Status::Ok);
        assert_eq!(v.len(), 2);
        assert_eq!(get(&v, NOW).unwrap(), a);
        assert_eq!(get(&v, NOW).unwrap(), b"x");
    }
    assert_eq!(get(&v, NOW), Err(Status::Timeout));
    assert_eq!(v.len(), 0);
}

#[test]
fn full_too_big_and_zero_length() {
    let m = Mem::new(16, 0);
    let v = m.view().unwrap();
    assert_eq!(v.max_message(), 12);
    assert_eq!(put(&v, &[1; 13], NOW), Status::MsgSize);
    assert_eq!(put(&v, &[1; 12], NOW), Status::Ok);
    assert_eq!(put(&v, b"", NOW), Status::Timeout);
    assert_eq!(get(&v, NOW).unwrap(), vec![1; 12]);
    assert_eq!(put(&v, b"", NOW), Status::Ok);
    assert_eq!(get(&v, NOW).unwrap(), b"");
}

#[test]
fn small_buffer_consumes_nothing_and_reports_the_size() {
    let m = Mem::new(64, 0);
    let v = m.view().unwrap();
    assert_eq!(put(&v, b"hello", NOW), Status::Ok);
    let mut seen = 0;
    // SAFETY: the sink never returns a pointer.
    let r = unsafe {
        v.get_many(NOW, 1, |_, len| {
            seen = len;
            None
        })
    };
    assert_eq!((r, seen), (Err(Status::BufSize), 5));
    assert_eq!(get(&v, NOW).unwrap(), b"hello");
}

#[test]
fn batches_are_all_or_nothing_and_bounded_by_max_count() {
    let m = Mem::new(64, 3);
    let v = m.view().unwrap();
    let msgs: [&[u8]; 4] = [b"a", b"bb", b"ccc", b"dddd"];
    assert_eq!(v.put_many(NOW, 4, |i| msgs[i]), Status::MsgSize);
    assert_eq!(v.put_many(NOW, 2, |i| msgs[i]), Status::Ok);
    assert_eq!(v.put_many(NOW, 2, |i| msgs[i + 2]), Status::Timeout);
    assert_eq!(v.put_many(NOW, 1, |i| msgs[i + 2]), Status::Ok);
    let mut out = Vec::new();
    // SAFETY: each returned pointer is a fresh buffer of `len` bytes kept in `out`.
    let n = unsafe {
        v.get_many(NOW, 10, |_, len| {
            out.push(vec![0u8; len]);
            Some(out.last_mut().unwrap().as_mut_ptr())
        })
    };
    assert_eq!(n, Ok(3));
    assert_eq!(out, vec![b"a".to_vec(), b"bb".to_vec(), b"ccc".to_vec()]);
}

#[test]
fn end_of_stream_drains_then_reports_closed() {
    let m = Mem::new(64, 0);
    let v = m.view().unwrap();
    assert_eq!(put(&v, b"last", NOW), Status::Ok);
    assert_eq!(v.close_producers(), Status::Ok);
    assert!(v.is_closed());
    assert_eq!(put(&v, b"more", NOW), Status::Closed);
    assert_eq!(get(&v, NOW).unwrap(), b"last");
    assert_eq!(get(&v, Timeout::FOREVER), Err(Status::Closed));
}

#[test]
fn task_done_and_join() {
    let m = Mem::new(64, 0);
    let v = m.view().unwrap();
    assert_eq!(v.task_done(1), Status::Overflow);
    assert_eq!(put(&v, b"job", NOW), Status::Ok);
    assert_eq!(v.join(NOW), Status::Timeout);
    let m2 = m.clone();
    let t = std::thread::spawn(move || m2.view().unwrap().join(Timeout::new(true, 20_000)));
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(v.task_done(1), Status::Ok);
    assert_eq!(t.join().unwrap(), Status::Ok);
    assert_eq!(v.unfinished(), 0);
}

#[test]
fn scribbled_positions_and_lengths_are_bad_objects() {
    let m = Mem::new(64, 0);
    let v = m.view().unwrap();
    assert_eq!(put(&v, b"abc", NOW), Status::Ok);
    // tail - head larger than the ring.
    m.raw().tail.store(1000, Ordering::Relaxed);
    assert_eq!(get(&v, NOW), Err(Status::BadObj));
    assert_eq!(put(&v, b"x", NOW), Status::BadObj);
    // A record length running past the bytes in use.
    m.raw().tail.store(7, Ordering::Relaxed);
    // SAFETY: the ring starts RING_OFFSET bytes in; 4 bytes written inside it.
    unsafe {
        (m.0.as_ptr() as *mut u8)
            .add(RING_OFFSET)
            .cast::<u32>()
            .write_unaligned(u32::MAX)
    };
    assert_eq!(get(&v, NOW), Err(Status::BadObj));
    // The capacity field disagreeing with the mapping.
    m.raw().capacity.store(32, Ordering::Relaxed);
    // SAFETY: the real allocation is larger than what we claim.
    assert!(unsafe { RawQueue::view(m.0.as_ptr() as *mut u8, RING_OFFSET + 64) }.is_err());
}

#[test]
fn repair_recounts_after_owner_death() {
    let m = Mem::new(64, 0);
    let v = m.view().unwrap();
    assert_eq!(put(&v, b"one", NOW), Status::Ok);
    assert_eq!(put(&v, b"two", NOW), Status::Ok);
    m.raw().count.store(77, Ordering::Relaxed);
    v.repair();
    assert_eq!(v.len(), 2);
}

#[test]
fn threads_keep_order_per_producer() {
    let m = Mem::new(256, 0);
    const PER: u32 = if cfg!(miri) { 20 } else { 5_000 };
    let producers: Vec<_> = (0..3u32)
        .map(|p| {
            let m = m.clone();
            std::thread::spawn(move || {
                let v = m.view().unwrap();
                for i in 0..PER {
                    let msg = [p.to_le_bytes(), i.to_le_bytes()].concat();
                    assert_eq!(put(&v, &msg, Timeout::new(true, 20_000)), Status::Ok);
                }
            })
        })
        .collect();
    let v = m.view().unwrap();
    let mut next = [0u32; 3];
    for _ in 0..3 * PER {
        let msg = get(&v, Timeout::new(true, 20_000)).unwrap();
        let p = u32::from_le_bytes(msg[..4].try_into().unwrap()) as usize;
        let i = u32::from_le_bytes(msg[4..].try_into().unwrap());
        assert_eq!(i, next[p]);
        next[p] += 1;
    }
    for t in producers {
        t.join().unwrap();
    }
}

/// The calling process's consumer slot's count, as the inspector reads it.
fn my_taken(m: &Mem) -> u64 {
    let me = crate::sys::thread::current().pid;
    m.raw()
        .consumer_records()
        .find(|c| c.process.pid == me)
        .map_or(0, |c| c.taken)
}

#[test]
fn gets_and_task_dones_keep_the_callers_count() {
    let m = Mem::new(64, 0);
    let v = m.view().unwrap();
    for msg in [&b"a"[..], b"b", b"c"] {
        assert_eq!(put(&v, msg, NOW), Status::Ok);
    }
    get(&v, NOW).unwrap();
    get(&v, NOW).unwrap();
    assert_eq!((my_taken(&m), v.unfinished()), (2, 3));
    assert_eq!(v.task_done(1), Status::Ok);
    assert_eq!((my_taken(&m), v.unfinished()), (1, 2));
    // More than this process took: the rest is someone else's (allowed).
    assert_eq!(v.task_done(2), Status::Ok);
    assert_eq!((my_taken(&m), v.unfinished(), v.abandoned()), (0, 0, 0));
    assert_eq!(v.task_done(1), Status::Overflow);
    assert_eq!(v.join(NOW), Status::Ok);
}

#[test]
fn repair_completes_a_committed_get_and_drops_an_uncommitted_one() {
    let m = Mem::new(64, 0);
    let v = m.view().unwrap();
    assert_eq!(put(&v, b"abc", NOW), Status::Ok);
    let (slot, _) = v.consumer(true).unwrap();
    let head = m.raw().head.load(Ordering::Relaxed);
    let get = consumers::Entry {
        slot: Some((slot, 1)),
        ..consumers::Entry::if_head(head + 7)
    };
    // Killed after journaling, before the commit: the message is still queued.
    v.journal(get);
    v.repair();
    assert_eq!(my_taken(&m), 0);
    // Killed after the commit: the consumer holds it.
    v.journal(get);
    m.raw().head.store(head + 7, Ordering::Relaxed);
    v.repair();
    assert_eq!(my_taken(&m), 1);
    v.repair(); // an empty journal changes nothing
    assert_eq!(my_taken(&m), 1);
}

/// A single get's copy made before locking (`copy_before_locking`) stands only if the
/// message is still the first under the lock: here another consumer takes it (and a
/// producer reuses its bytes) in between, and the get delivers the next message whole.
#[test]
fn an_early_copy_of_a_message_taken_meanwhile_is_thrown_away() {
    let m = Mem::new(4 * 1024, 0);
    let v = m.view().unwrap();
    let first = vec![1u8; 1500];
    let second = vec![2u8; 1500];
    assert_eq!(put(&v, &first, NOW), Status::Ok);
    assert_eq!(put(&v, &second, NOW), Status::Ok);
    let mut early = vec![0u8; 2000];
    // SAFETY: `early` holds 2000 writable bytes, more than any message here.
    let copied = unsafe { v.copy_before_locking(&mut |_, _| Some(early.as_mut_ptr())) };
    let (head, len) = copied.unwrap();
    assert_eq!((len, &early[..len]), (1500, &first[..]));
    // Another consumer takes the first message; a producer writes over its bytes.
    assert_eq!(get(&v, NOW).unwrap(), first);
    assert_eq!(put(&v, &vec![3u8; 1500], NOW), Status::Ok);
    let (now_head, used) = v.used().unwrap();
    assert_ne!(now_head, head);
    assert_eq!(v.still_first((head, len), now_head, used), None);
    // Unchanged positions: the copy stands.
    assert_eq!(v.still_first((now_head, 1500), now_head, used), Some(1504));
    assert_eq!(v.still_first((now_head, 1499), now_head, used), None);
    // The whole path: every get delivers the right message.
    assert_eq!(get(&v, NOW).unwrap(), second);
    assert_eq!(get(&v, NOW).unwrap(), vec![3u8; 1500]);
    assert_eq!(get(&v, NOW), Err(Status::Timeout));
}
