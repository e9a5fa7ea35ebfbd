/* A hostile peer. For every object type, victim processes use a live object (acquire/
 * release/wait loops; every blocking call with a short timeout) while a hostile process
 * writes random values at random offsets of the object's memory: in one variant it leaves
 * the 8-byte object header alone, in the other it scribbles on the header too.
 *
 * A peer that scribbles on an object may break that object, never the processes that use
 * it. Asserted for every victim: it is not killed by a signal, it does not hang (each call
 * returns within 2 s of wall time; the victims' whole run is bounded), every status a call
 * returns is one that function documents, and it exits normally.
 *
 * One exception is inherent, not a defect: a call that waits for a lock without a
 * timeout (the re-acquisition at the end of a Condition wait, the copies of a synchronized
 * Array) waits as long as the lock looks held, and a forged holder looks exactly like a
 * live process that holds the lock through the API. Such a victim must then be asleep in
 * the kernel, using no CPU (never spinning), which is what the test checks instead. */
#include <stdarg.h>

#include "mpt_util.h"

#define VICTIMS 2
#define HOSTILE_MS 400      /* how long the hostile process scribbles */
#define MAX_CALLS 4000      /* per victim */
#define CALL_LIMIT_MS 2000  /* no single call may take longer */
#define RUN_LIMIT_MS 10000  /* a victim still running after this has hung */

#define BIT(st) (1ull << ((st) + 20))
#define B_OK BIT(MP_OK)
#define B_TO BIT(MP_TIMEOUT)
#define B_OD BIT(MP_OWNER_DEAD)
#define B_INVAL BIT(MP_EINVAL)
#define B_BAD BIT(MP_EBADOBJ)
#define B_NOTOWN BIT(MP_ENOTOWNER)
#define B_OVF BIT(MP_EOVERFLOW)
#define B_INTR BIT(MP_EINTR)
#define B_BROKEN BIT(MP_EBROKEN)
#define B_RANGE BIT(MP_ERANGE)
#define B_BUSY BIT(MP_EBUSY)
#define B_DEADLK BIT(MP_EDEADLK)
#define B_MSGSIZE BIT(MP_EMSGSIZE)
#define B_BUFSIZE BIT(MP_EBUFSIZE)
#define B_CLOSED BIT(MP_ECLOSED)
/* What each function documents (see include/mpsync.h). */
#define A_GETTER (B_OK | B_INVAL | B_BAD)
#define A_LOCK_ACQ (B_OK | B_TO | B_INTR | B_INVAL | B_BAD)
#define A_LOCK_REL (B_OK | B_OVF | B_INVAL | B_BAD)
#define A_RLOCK_ACQ (B_OK | B_TO | B_OD | B_INTR | B_OVF | B_INVAL | B_BAD)
#define A_RLOCK_REL (B_OK | B_NOTOWN | B_INVAL | B_BAD)
#define A_SEM_ACQ A_LOCK_ACQ
#define A_SEM_REL A_LOCK_REL
#define A_COND_WAIT (B_OK | B_TO | B_OD | B_INTR | B_NOTOWN | B_OVF | B_INVAL | B_BAD)
#define A_EVENT_WAIT (B_OK | B_TO | B_INTR | B_INVAL | B_BAD)
#define A_BARRIER_WAIT (B_OK | B_BROKEN | B_INTR | B_INVAL | B_BAD)
#define A_RW_READ (B_OK | B_TO | B_OD | B_INTR | B_BUSY | B_DEADLK | B_OVF | B_INVAL | B_BAD)
#define A_RW_WRITE (B_OK | B_TO | B_OD | B_INTR | B_DEADLK | B_INVAL | B_BAD)
#define A_ARRAY (B_OK | B_OD | B_RANGE | B_INTR | B_OVF | B_INVAL | B_BAD)
#define A_QUEUE_PUT (B_OK | B_TO | B_MSGSIZE | B_CLOSED | B_INTR | B_INVAL | B_BAD)
#define A_QUEUE_GET (B_OK | B_TO | B_BUFSIZE | B_CLOSED | B_INTR | B_INVAL | B_BAD)
#define A_QUEUE_DONE (B_OK | B_OVF | B_INTR | B_INVAL | B_BAD)
#define A_QUEUE_JOIN (B_OK | B_TO | B_OD | B_INTR | B_INVAL | B_BAD)

enum kind {
    K_LOCK, K_RLOCK, K_SEM, K_BSEM, K_COND_RLOCK, K_COND_LOCK, K_EVENT, K_BARRIER,
    K_ARRAY_SYNC, K_ARRAY_RAW, K_SHM, K_RWLOCK, K_QUEUE,
};

struct hostile {
    /* The objects live here (in-place kinds); arrays and shm blocks elsewhere. */
    union {
        mp_lock_t lock;
        mp_rlock_t rlock;
        mp_rwlock_t rwlock;
        mp_sem_t sem;
        mp_event_t event;
        mp_barrier_t barrier;
        struct { mp_cond_t cond; mp_rlock_t rlock; } cr;
        struct { mp_cond_t cond; mp_lock_t lock; } cl;
    } u;
    volatile int stop;
    volatile int calls[VICTIMS];
    volatile int in_untimed_wait[VICTIMS]; /* inside a call that may wait without a timeout */
    volatile int fail_code[VICTIMS];
    char why[VICTIMS][160];
};

struct victim_ctx {
    struct hostile *h;
    enum kind kind;
    int slot;
    mp_array_t *arr;
    mp_shm_t *shm;
    mp_queue_t *queue;
    uint64_t rng;
};

static uint64_t next_rand(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void victim_fail(struct victim_ctx *v, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->h->why[v->slot], sizeof v->h->why[v->slot], fmt, ap);
    va_end(ap);
    v->h->fail_code[v->slot] = code;
    _exit(code);
}

/* Runs one call, timing it and checking its status against what the function documents. */
#define CALL(v, allowed, expr)                                                                 \
    ({                                                                                         \
        double t0_ = mpt_now_ms();                                                             \
        mp_status st_ = (expr);                                                                \
        double ms_ = mpt_now_ms() - t0_;                                                       \
        if (ms_ > CALL_LIMIT_MS) victim_fail(v, 3, "%s took %.0f ms", #expr, ms_);             \
        if (st_ < -20 || st_ > 20 || !((allowed) & BIT(st_)))                                  \
            victim_fail(v, 4, "%s returned undocumented %d (%s)", #expr, st_,                  \
                        mp_status_name(st_));                                                  \
        st_;                                                                                   \
    })

/* CALL for a call that may wait for a lock without a timeout (see the top comment): no
 * time limit, and the parent knows where the victim is if it does not come back. */
#define CALL_UNTIMED(v, allowed, expr)                                                         \
    ({                                                                                         \
        v->h->in_untimed_wait[v->slot] = 1;                                                    \
        double t0_ = mpt_now_ms();                                                             \
        mp_status st_ = (expr);                                                                \
        (void)t0_;                                                                             \
        v->h->in_untimed_wait[v->slot] = 0;                                                    \
        if (st_ < -20 || st_ > 20 || !((allowed) & BIT(st_)))                                  \
            victim_fail(v, 4, "%s returned undocumented %d (%s)", #expr, st_,                  \
                        mp_status_name(st_));                                                  \
        st_;                                                                                   \
    })

static int64_t short_timeout(struct victim_ctx *v) { return (int64_t)(next_rand(&v->rng) % 4); }

static void victim_step(struct victim_ctx *v) {
    struct hostile *h = v->h;
    uint64_t r = next_rand(&v->rng);
    bool b;
    uint32_t u;
    switch (v->kind) {
    case K_LOCK: {
        mp_lock_t *l = &h->u.lock;
        if (r % 4 == 0) CALL(v, A_GETTER, mp_lock_is_locked(l, &b));
        else if (r % 4 == 1) CALL(v, A_LOCK_REL, mp_lock_release(l));
        else if (CALL(v, A_LOCK_ACQ, mp_lock_acquire(l, r & 8, short_timeout(v))) == MP_OK)
            CALL(v, A_LOCK_REL, mp_lock_release(l));
        break;
    }
    case K_RLOCK: {
        mp_rlock_t *l = &h->u.rlock;
        if (r % 4 == 0) {
            CALL(v, A_GETTER, mp_rlock_is_mine(l, &b));
            CALL(v, A_GETTER, mp_rlock_count(l, &u));
            CALL(v, A_GETTER, mp_rlock_is_locked(l, &b));
        } else if (r % 4 == 1) {
            CALL(v, A_RLOCK_REL, mp_rlock_release(l));
        } else {
            mp_status st = CALL(v, A_RLOCK_ACQ, mp_rlock_acquire(l, r & 8, short_timeout(v)));
            if (st == MP_OK || st == MP_OWNER_DEAD) {
                if (r & 16 && CALL(v, A_RLOCK_ACQ, mp_rlock_acquire(l, true, 0)) == MP_OK)
                    CALL(v, A_RLOCK_REL, mp_rlock_release(l));
                usleep(r % 1000); /* held: the hostile process writes meanwhile */
                CALL(v, A_RLOCK_REL, mp_rlock_release(l));
            }
        }
        break;
    }
    case K_RWLOCK: {
        mp_rwlock_t *l = &h->u.rwlock;
        int write = (r >> 8) % 3 == 0;
        if (r % 4 == 0) {
            CALL(v, A_GETTER, mp_rwlock_read_level(l, &u));
            CALL(v, A_GETTER, mp_rwlock_is_writer(l, &b));
        } else if (r % 4 == 1) {
            CALL(v, A_RLOCK_REL, write ? mp_rwlock_release_write(l) : mp_rwlock_release_read(l));
        } else {
            mp_status st = write ? CALL(v, A_RW_WRITE, mp_rwlock_acquire_write(l, r & 8, short_timeout(v)))
                                 : CALL(v, A_RW_READ, mp_rwlock_acquire_read(l, r & 8, short_timeout(v)));
            if (st == MP_OK || st == MP_OWNER_DEAD) {
                if (!write && r & 16 && CALL(v, A_RW_READ, mp_rwlock_acquire_read(l, true, 0)) == MP_OK)
                    CALL(v, A_RLOCK_REL, mp_rwlock_release_read(l));
                usleep(r % 1000); /* held: the hostile process writes meanwhile */
                CALL(v, A_RLOCK_REL, write ? mp_rwlock_release_write(l) : mp_rwlock_release_read(l));
            }
        }
        break;
    }
    case K_SEM:
    case K_BSEM: {
        mp_sem_t *s = &h->u.sem;
        if (r % 4 == 0) {
            CALL(v, A_GETTER, mp_sem_get_value(s, &u));
            CALL(v, A_GETTER, mp_sem_get_max_value(s, &u));
        } else if (r % 4 == 1) {
            CALL(v, A_SEM_REL, mp_sem_release(s));
        } else if (CALL(v, A_SEM_ACQ, mp_sem_acquire(s, r & 8, short_timeout(v))) == MP_OK) {
            CALL(v, A_SEM_REL, mp_sem_release(s));
        }
        break;
    }
    case K_COND_RLOCK: {
        mp_cond_t *c = &h->u.cr.cond;
        mp_rlock_t *l = &h->u.cr.rlock;
        if (r % 4 == 0) {
            CALL(v, A_GETTER, mp_cond_notify(c, (uint32_t)(r >> 8) % 3));
        } else if (r % 4 == 1) {
            CALL(v, A_GETTER, mp_cond_notify_all(c));
            CALL(v, A_GETTER, mp_cond_n_waiting(c, &u));
        } else {
            mp_status st = CALL(v, A_RLOCK_ACQ, mp_rlock_acquire(l, true, short_timeout(v)));
            if (st == MP_OK || st == MP_OWNER_DEAD) {
                CALL_UNTIMED(v, A_COND_WAIT, mp_cond_wait(c, l, short_timeout(v)));
                CALL(v, A_GETTER, mp_cond_notify(c, 1));
                CALL(v, A_RLOCK_REL, mp_rlock_release(l));
            }
        }
        break;
    }
    case K_COND_LOCK: {
        mp_cond_t *c = &h->u.cl.cond;
        mp_lock_t *l = &h->u.cl.lock;
        if (r % 4 == 0) {
            CALL(v, A_GETTER, mp_cond_notify(c, (uint32_t)(r >> 8) % 3));
        } else if (r % 4 == 1) {
            CALL(v, A_GETTER, mp_cond_notify_all(c));
        } else if (CALL(v, A_LOCK_ACQ, mp_lock_acquire(l, true, short_timeout(v))) == MP_OK) {
            CALL_UNTIMED(v, A_COND_WAIT, mp_cond_wait_lock(c, l, short_timeout(v)));
            CALL(v, A_GETTER, mp_cond_notify(c, 1));
            CALL(v, A_LOCK_REL, mp_lock_release(l));
        }
        break;
    }
    case K_EVENT: {
        mp_event_t *e = &h->u.event;
        switch (r % 4) {
        case 0: CALL(v, A_GETTER, mp_event_set(e)); break;
        case 1: CALL(v, A_GETTER, mp_event_clear(e)); break;
        case 2: CALL(v, A_GETTER, mp_event_is_set(e, &b)); break;
        default: CALL(v, A_EVENT_WAIT, mp_event_wait(e, short_timeout(v))); break;
        }
        break;
    }
    case K_BARRIER: {
        mp_barrier_t *br = &h->u.barrier;
        switch (r % 6) {
        case 0: CALL(v, A_GETTER, mp_barrier_reset(br)); break;
        case 1: CALL(v, A_GETTER, mp_barrier_n_waiting(br, &u)); break;
        case 2: CALL(v, A_GETTER, mp_barrier_is_broken(br, &b)); break;
        case 3: CALL(v, A_GETTER, mp_barrier_parties(br, &u)); break;
        default: {
            uint32_t idx = 0;
            if (CALL(v, A_BARRIER_WAIT, mp_barrier_wait(br, short_timeout(v), NULL, NULL, &idx)) ==
                    MP_OK &&
                idx >= MP_BARRIER_PARTIES_MAX)
                victim_fail(v, 7, "barrier index %u out of range", idx);
            break;
        }
        }
        break;
    }
    case K_ARRAY_SYNC:
    case K_ARRAY_RAW: {
        mp_array_t *a = v->arr;
        int64_t buf[64] = {0};
        size_t len = mp_array_len(a); /* 0 once the descriptor is scribbled on */
        size_t i = len ? (size_t)(r >> 8) % len : (size_t)(r >> 8) % 64;
        switch (r % 5) {
        case 0: CALL_UNTIMED(v, A_ARRAY, mp_array_get(a, i, buf)); break;
        case 1: CALL_UNTIMED(v, A_ARRAY, mp_array_set(a, i, buf)); break;
        case 2: CALL_UNTIMED(v, A_ARRAY, mp_array_read(a, 0, len < 64 ? len : 64, buf)); break;
        case 3: CALL_UNTIMED(v, A_ARRAY, mp_array_write(a, i, 1, buf)); break;
        default: {
            mp_rlock_t *l = mp_array_get_lock(a);
            if (l) {
                mp_status st = CALL(v, A_RLOCK_ACQ, mp_rlock_acquire(l, true, short_timeout(v)));
                if (st == MP_OK || st == MP_OWNER_DEAD) {
                    CALL_UNTIMED(v, A_ARRAY, mp_array_get(a, i, buf)); /* re-enters the lock */
                    CALL(v, A_RLOCK_REL, mp_rlock_release(l));
                }
            }
            break;
        }
        }
        break;
    }
    case K_QUEUE: {
        /* Every blocking call has a short timeout; end of stream (close_producer) and
         * task_done wait for the lock without one (see the top comment). */
        mp_queue_t *q = v->queue;
        unsigned char buf[160];
        size_t n = 0, lens[4], got;
        size_t len = (size_t)(r >> 8) % sizeof buf;
        memset(buf, (int)r, len);
        const void *msgs[3] = {buf, buf + 1, buf + 2};
        size_t mlens[3] = {len / 3, len / 2, len / 4};
        switch (r % 9) {
        case 0: case 1: CALL(v, A_QUEUE_PUT, mp_queue_put(q, buf, len, true, short_timeout(v))); break;
        case 2: CALL(v, A_QUEUE_PUT, mp_queue_put_many(q, msgs, mlens, 3, true, short_timeout(v))); break;
        case 3: case 4: CALL(v, A_QUEUE_GET, mp_queue_get(q, buf, len, &n, true, short_timeout(v))); break;
        case 5: CALL(v, A_QUEUE_GET, mp_queue_get_many(q, buf, sizeof buf, lens, 4, &got, true, short_timeout(v))); break;
        case 6: CALL(v, A_GETTER, mp_queue_size(q, &n)); break;
        case 7: CALL(v, A_QUEUE_JOIN, mp_queue_join(q, true, short_timeout(v))); break;
        default:
            if ((r >> 8) % 64 == 0) CALL_UNTIMED(v, A_QUEUE_JOIN, mp_queue_close_producer(q));
            else CALL_UNTIMED(v, A_QUEUE_DONE, mp_queue_task_done(q));
            break;
        }
        break;
    }
    case K_SHM: {
        volatile unsigned char *d = mp_shm_data(v->shm);
        size_t n = mp_shm_size(v->shm);
        if (!d || n == 0 || !mp_shm_name(v->shm)) victim_fail(v, 5, "shm accessors failed");
        d[(r >> 8) % n] = (unsigned char)r;
        (void)d[(r >> 20) % n];
        break;
    }
    }
}

static int victim_main(void *arg) {
    struct victim_ctx *v = arg;
    v->rng ^= (uint64_t)getpid() * 0x9E3779B97F4A7C15ull;
    double t0 = mpt_now_ms();
    int n = 0;
    while (n < MAX_CALLS && !(v->h->stop && n >= 50)) {
        victim_step(v);
        v->h->calls[v->slot] = ++n;
        if (mpt_now_ms() - t0 > RUN_LIMIT_MS) victim_fail(v, 6, "still running after %d calls", n);
    }
    return 0;
}

/* Writes random values at random offsets of [base + from, base + len). */
static void scribble(volatile unsigned char *base, size_t from, size_t len, uint64_t *rng) {
    static const uint64_t interesting[] = {0, 1, 2, 0x7fffffff, 0x80000000, 0xffffffff,
                                           0xffff, 0x40000000, UINT64_MAX};
    uint64_t r = next_rand(rng);
    size_t off = from + (size_t)(r % (len - from));
    uint64_t val = (r >> 32) & 1 ? next_rand(rng) : interesting[(r >> 33) % 9];
    switch ((r >> 40) % 4) {
    case 0: val = (val & ~0x3fffffffull) | (uint64_t)getppid(); break; /* a live TID */
    case 1: val = (uint64_t)(uintptr_t)(base + (r >> 44) % len); break; /* a pointer into it */
    default: break;
    }
    size_t width = (size_t)1 << ((r >> 36) % 4);
    for (size_t k = 0; k < width && off + k < len; k++) base[off + k] = (unsigned char)(val >> (8 * k));
}

/* State and user+system CPU ticks of a process, from /proc/<pid>/stat. */
static bool proc_state(pid_t pid, char *state, unsigned long long *ticks) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* fields resume after the command name */
    unsigned long long ut = 0, stime = 0;
    if (!p || sscanf(p + 2, "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", state, &ut,
                     &stime) != 3)
        return false;
    *ticks = ut + stime;
    return true;
}

/* True if the process sleeps (state S) and used no CPU over 500 ms: blocked in the kernel,
 * not spinning. */
static bool asleep_without_cpu(pid_t pid) {
    char s0, s1;
    unsigned long long t0, t1;
    if (!proc_state(pid, &s0, &t0)) return false;
    usleep(500 * 1000);
    if (!proc_state(pid, &s1, &t1)) return false;
    fprintf(stderr, "victim pid %d: state %c -> %c, CPU ticks +%llu in 500 ms\n", (int)pid, s0,
            s1, t1 - t0);
    return s0 == 'S' && s1 == 'S' && t1 - t0 <= 1;
}

static void run_hostile(enum kind kind, bool header_too) {
    struct hostile *h = mpt_shared(sizeof *h);
    struct victim_ctx v = {.h = h, .kind = kind};
    v.rng = (uint64_t)mpt_now_ns() | 1;
    unsigned char *mem = (unsigned char *)&h->u;
    size_t len = 0;
    char shm_name[64] = "";
    switch (kind) {
    case K_LOCK: CHECK_OK(mp_lock_init(&h->u.lock)); len = MP_LOCK_SIZE; break;
    case K_RLOCK: CHECK_OK(mp_rlock_init(&h->u.rlock)); len = MP_RLOCK_SIZE; break;
    case K_RWLOCK: CHECK_OK(mp_rwlock_init(&h->u.rwlock)); len = MP_RWLOCK_SIZE; break;
    case K_SEM: CHECK_OK(mp_sem_init(&h->u.sem, 1, MP_SEM_VALUE_MAX)); len = MP_SEM_SIZE; break;
    case K_BSEM: CHECK_OK(mp_sem_init(&h->u.sem, 2, 2)); len = MP_SEM_SIZE; break;
    case K_COND_RLOCK:
        CHECK_OK(mp_cond_init(&h->u.cr.cond));
        CHECK_OK(mp_rlock_init(&h->u.cr.rlock));
        len = sizeof h->u.cr;
        break;
    case K_COND_LOCK:
        CHECK_OK(mp_cond_init(&h->u.cl.cond));
        CHECK_OK(mp_lock_init(&h->u.cl.lock));
        len = sizeof h->u.cl;
        break;
    case K_EVENT: CHECK_OK(mp_event_init(&h->u.event)); len = MP_EVENT_SIZE; break;
    case K_BARRIER: CHECK_OK(mp_barrier_init(&h->u.barrier, VICTIMS)); len = MP_BARRIER_SIZE; break;
    case K_ARRAY_SYNC:
    case K_ARRAY_RAW:
        CHECK_OK(mp_array_new(MP_TYPE_LONG, 32, kind == K_ARRAY_SYNC, &v.arr));
        mem = (unsigned char *)v.arr;
        len = MP_ARRAY_DATA_OFFSET + 32 * sizeof(long);
        break;
    case K_QUEUE:
        /* The descriptor and consumer table (1792 bytes) and a 256-byte ring: the same
         * layout as docs/queue.md describes; the scribbler covers all of it. */
        CHECK_OK(mp_queue_new(256, &v.queue));
        mem = (unsigned char *)v.queue;
        len = 1792 + 256;
        break;
    case K_SHM:
        CHECK_OK(mp_shm_open(NULL, MP_CREATE | MP_EXCL, 4096, 0, &v.shm));
        snprintf(shm_name, sizeof shm_name, "%s", mp_shm_name(v.shm));
        mem = mp_shm_data(v.shm);
        len = mp_shm_size(v.shm);
        break;
    }
    /* A raw SharedMemory block has no header: both variants scribble everywhere. */
    size_t from = header_too || kind == K_SHM ? 0 : 8;
    pid_t victims[VICTIMS];
    for (int i = 0; i < VICTIMS; i++) {
        v.slot = i;
        victims[i] = mpt_fork(victim_main, &v);
    }
    pid_t hostile = fork();
    CHECK(hostile >= 0);
    if (hostile == 0) {
        uint64_t rng = v.rng * 31 + 7;
        double t0 = mpt_now_ms();
        long writes = 0;
        /* A semaphore's flavour is in its header: every 8th write, the header variant
         * also restores the live header with the undo kind (8) in place of the plain
         * one, which the victims must refuse (MP_EBADOBJ), never follow past the
         * MP_SEM_SIZE bytes of the object. */
        bool flip = header_too && (kind == K_SEM || kind == K_BSEM);
        unsigned char live_header[8];
        memcpy(live_header, mem, sizeof live_header);
        live_header[4] = 8;
        while (mpt_now_ms() - t0 < HOSTILE_MS) {
            /* A few writes per lock hold: dense enough to hit every field, sparse
             * enough that a victim often acts on a partly overwritten object. */
            scribble((volatile unsigned char *)mem, from, len, &rng);
            if (flip && writes % 8 == 0)
                for (size_t k = 0; k < sizeof live_header; k++) ((volatile unsigned char *)mem)[k] = live_header[k];
            writes++;
            usleep((useconds_t)(next_rand(&rng) % 300));
        }
        h->stop = 1;
        fprintf(stderr, "hostile: %ld writes\n", writes);
        _exit(0);
    }
    mpt_wait_ok(hostile);
    double t0 = mpt_now_ms();
    int bad = 0;
    for (int i = 0; i < VICTIMS; i++) {
        int st = 0;
        pid_t r;
        while ((r = waitpid(victims[i], &st, WNOHANG)) == 0 && mpt_now_ms() - t0 < RUN_LIMIT_MS + 5000)
            usleep(2000);
        if (r == 0 && h->in_untimed_wait[i] && asleep_without_cpu(victims[i])) {
            fprintf(stderr, "victim %d waits without a timeout behind a forged holder after %d "
                    "calls, asleep and using no CPU: accepted (see the top comment)\n", i,
                    h->calls[i]);
            kill(victims[i], SIGKILL);
            waitpid(victims[i], &st, 0);
        } else if (r == 0) {
            fprintf(stderr, "victim %d HUNG after %d calls\n", i, h->calls[i]);
            kill(victims[i], SIGKILL);
            waitpid(victims[i], &st, 0);
            bad = 1;
        } else if (WIFSIGNALED(st)) {
            fprintf(stderr, "victim %d KILLED by signal %d (%s) after %d calls\n", i,
                    WTERMSIG(st), strsignal(WTERMSIG(st)), h->calls[i]);
            bad = 1;
        } else if (WEXITSTATUS(st) != 0) {
            fprintf(stderr, "victim %d failed (exit %d) after %d calls: %s\n", i,
                    WEXITSTATUS(st), h->calls[i], h->why[i]);
            bad = 1;
        }
    }
    fprintf(stderr, "kind %d, header %s: %d + %d calls\n", (int)kind,
            header_too ? "scribbled" : "spared", h->calls[0], h->calls[1]);
    if (v.arr) mp_array_close(v.arr); /* may be MP_EBADOBJ: its descriptor was scribbled */
    if (v.queue) CHECK_OK(mp_queue_close(v.queue)); /* decided from private state only */
    if (v.shm) {
        CHECK_OK(mp_unlink(shm_name));
        CHECK_OK(mp_shm_close(v.shm));
    }
    CHECK(!bad);
}

#define HOSTILE_TESTS(name, kind)                                          \
    TEST(hostile_##name##_header_spared) { run_hostile(kind, false); }     \
    TEST(hostile_##name##_header_scribbled) { run_hostile(kind, true); }

HOSTILE_TESTS(lock, K_LOCK)
HOSTILE_TESTS(rlock, K_RLOCK)
HOSTILE_TESTS(semaphore, K_SEM)
HOSTILE_TESTS(bounded_semaphore, K_BSEM)
HOSTILE_TESTS(condition_rlock, K_COND_RLOCK)
HOSTILE_TESTS(condition_lock, K_COND_LOCK)
HOSTILE_TESTS(event, K_EVENT)
HOSTILE_TESTS(barrier, K_BARRIER)
HOSTILE_TESTS(array_synchronized, K_ARRAY_SYNC)
HOSTILE_TESTS(array_raw, K_ARRAY_RAW)
HOSTILE_TESTS(shared_memory, K_SHM)
HOSTILE_TESTS(rwlock, K_RWLOCK)
HOSTILE_TESTS(queue, K_QUEUE)
