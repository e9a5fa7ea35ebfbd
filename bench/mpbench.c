/* mpbench: libmpsync against the primitives people would otherwise use.
 *
 * Run through bench/run.sh (which builds everything and writes BENCHMARKS.md); by hand:
 *
 *   mpbench uncontended REPS [PROC]   acquire+release pairs, one process, pinned, timed
 *                                     in thread CPU time; PROC numbers this process among
 *                                     the fresh ones run.sh starts (default 0)
 *   mpbench contended REPS SECS       N processes on a shared counter, N = 2, 4, 8
 *   mpbench contended1 NAME N REPS SECS   one contended configuration (for profiling)
 *   mpbench handoff REPS              two-process ping-pong over two semaphores/locks
 *   mpbench cond REPS                 Condition notify/wait round trip
 *   mpbench cond1 NAME same|cross N   one Condition configuration (for profiling)
 *   mpbench arraythreads REPS         mp_array get+set pairs, 1 and 2 threads
 *   mpbench ir NAME PAIRS             NAME's pairs only, for callgrind differencing
 *   mpbench list                      names usable with `ir`
 *
 * Output: one tab-separated record per measurement on stdout (parsed by report.py):
 *   U rep name ns_per_pair proc
 *   C rep name nprocs ops_per_s min_share_pct max_share_pct ctxsw_per_kop
 *   H rep name placement p50_us p99_us          (one-way = round trip / 2)
 *   V rep name placement p50_us p99_us          (Condition round trip)
 *   A rep nthreads wall_pairs_per_s cpu_pairs_per_s   (array scaling)
 *   N note text                                 (notes for the report)
 *
 * Every object lives in a MAP_SHARED mapping (as it would to be shared between
 * processes); every library call's return code is checked (as real code would), and
 * a failure aborts the run. Contended runs check that the counter equals the sum of
 * the per-process operation counts (mutual exclusion held). */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mpsync.h>

#include "floor.h"
#ifdef HAVE_BOOST
#include "bip.h"
#endif
#ifdef HAVE_HPP
#include "hpp.h"
#endif

/* ------------------------------------------------------------------------------ */
/* Helpers */

static void die(const char *what, long code) {
    fprintf(stderr, "mpbench: %s failed (%ld)\n", what, code);
    fflush(stderr);
    _exit(3);
}

#define CK_MP(expr)                                                                    \
    do {                                                                               \
        mp_status st_ = (expr);                                                        \
        if (__builtin_expect(st_ != MP_OK, 0)) die(#expr, st_);                        \
    } while (0)
#define CK0(expr)                                                                      \
    do {                                                                               \
        int r_ = (expr);                                                               \
        if (__builtin_expect(r_ != 0, 0)) die(#expr, r_);                              \
    } while (0)

static inline double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* CPU time of the calling thread: time-slices lost to other processes on a busy
 * machine do not count (used for the single-process uncontended loops). */
static inline double cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int ncpus(void) {
    cpu_set_t s;
    if (sched_getaffinity(0, sizeof s, &s) != 0) return 1;
    int n = CPU_COUNT(&s);
    return n > 0 ? n : 1;
}

static void pin(int cpu) {
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    sched_setaffinity(0, sizeof s, &s); /* best effort: a restricted cpuset is fine */
}

static void *shared_map(size_t len) {
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) die("mmap", errno);
    return p;
}

static long futex(uint32_t *w, int op, uint32_t v) {
    return syscall(SYS_futex, w, op, v, NULL, NULL, 0);
}

static void spin(int n) {
    for (volatile int k = 0; k < n; k++) {
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* ------------------------------------------------------------------------------ */
/* The primitives */

enum prim {
    P_FLOOR,
    P_FLOOR_INLINE,
    P_MP_LOCK,
    P_MP_LOCK_TRY,
    P_MP_LOCK_TIMED,
    P_MP_RLOCK,
    P_MP_RLOCK_NESTED,
    P_MP_SEM,
    P_MP_SEM_TIMED,
    P_MP_SEM_UNDO,
    P_PT_PSHARED,
    P_PT_RECURSIVE,
    P_PT_ROBUST,
    P_PT_ROBUST_REC,
    P_PT_ROBUST_REC_NESTED,
    P_SEM_T,
    P_BIP_MUTEX,
    P_BIP_RMUTEX,
    P_BIP_SEM,
    P_HPP_MUTEX,
    P_HPP_RMUTEX,
    P_MP_ARRAY,
    P_ARRAY_RAW,
    P_COUNT
};

/* Short names (report.py turns them into labels). */
static const char *const NAMES[P_COUNT] = {
    [P_FLOOR] = "floor",
    [P_FLOOR_INLINE] = "floor_inline",
    [P_MP_LOCK] = "mp_lock",
    [P_MP_LOCK_TRY] = "mp_lock_try",
    [P_MP_LOCK_TIMED] = "mp_lock_timed",
    [P_MP_RLOCK] = "mp_rlock",
    [P_MP_RLOCK_NESTED] = "mp_rlock_nested",
    [P_MP_SEM] = "mp_sem",
    [P_MP_SEM_TIMED] = "mp_sem_timed",
    [P_MP_SEM_UNDO] = "mp_sem_undo",
    [P_PT_PSHARED] = "pthread_pshared",
    [P_PT_RECURSIVE] = "pthread_recursive",
    [P_PT_ROBUST] = "pthread_robust",
    [P_PT_ROBUST_REC] = "pthread_robust_recursive",
    [P_PT_ROBUST_REC_NESTED] = "pthread_robust_recursive_nested",
    [P_SEM_T] = "sem_t",
    [P_BIP_MUTEX] = "bip_mutex",
    [P_BIP_RMUTEX] = "bip_recursive_mutex",
    [P_BIP_SEM] = "bip_semaphore",
    [P_HPP_MUTEX] = "hpp_mutex",
    [P_HPP_RMUTEX] = "hpp_recursive_mutex",
    [P_MP_ARRAY] = "mp_array_getset",
    [P_ARRAY_RAW] = "array_raw_rlock",
};

/* A synchronized Value('i') (mp_array_new), its lock and its element, cached at
 * init; a "pair" of the array kinds is one locked read plus one locked write:
 *   P_MP_ARRAY:  mp_array_get + mp_array_set (each validates the handle and takes
 *                the embedded RLock);
 *   P_ARRAY_RAW: the same lock taken twice around a plain load / store of the
 *                element (the floor for a validated, locked get+set). */
struct arr_slot {
    mp_array_t *arr;
    mp_rlock_t *lock;
    volatile int *data;
};

static void arr_slot_init(struct arr_slot *a) {
    CK_MP(mp_array_new(MP_TYPE_INT, 1, true, &a->arr));
    a->lock = mp_array_get_lock(a->arr);
    a->data = mp_array_data(a->arr);
    if (!a->lock || !a->data) die("mp_array_get_lock/mp_array_data", 0);
}

static void arr_slot_close(struct arr_slot *a) { CK_MP(mp_array_close(a->arr)); }

static inline __attribute__((always_inline)) void arr_get(int k, struct arr_slot *a, int *v) {
    if (k == P_MP_ARRAY) {
        CK_MP(mp_array_get(a->arr, 0, v));
    } else {
        CK_MP(mp_rlock_acquire(a->lock, true, MP_FOREVER));
        *v = *a->data;
        CK_MP(mp_rlock_release(a->lock));
    }
}

static inline __attribute__((always_inline)) void arr_set(int k, struct arr_slot *a, int v) {
    if (k == P_MP_ARRAY) {
        CK_MP(mp_array_set(a->arr, 0, &v));
    } else {
        CK_MP(mp_rlock_acquire(a->lock, true, MP_FOREVER));
        *a->data = v;
        CK_MP(mp_rlock_release(a->lock));
    }
}

static int available(int k) {
#ifndef HAVE_BOOST
    if (k == P_BIP_MUTEX || k == P_BIP_RMUTEX || k == P_BIP_SEM) return 0;
#endif
#ifndef HAVE_HPP
    if (k == P_HPP_MUTEX || k == P_HPP_RMUTEX) return 0;
#endif
    (void)k;
    return 1;
}

/* Every object gets its own 8 KiB slot (more than any of them needs: an undo
 * semaphore is sizeof(mp_sem_undo_t) bytes). */
#define SLOT 8192

static void pt_init(pthread_mutex_t *m, int robust, int recursive) {
    pthread_mutexattr_t a;
    CK0(pthread_mutexattr_init(&a));
    CK0(pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED));
    if (robust) CK0(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST));
    if (recursive) CK0(pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE));
    CK0(pthread_mutex_init(m, &a));
    CK0(pthread_mutexattr_destroy(&a));
}

/* Initialises kind k in `o`, available (unlocked / value 1). The *_nested kinds are
 * left held once, so that the measured pairs are re-entries. */
static void p_init(int k, void *o) {
    switch (k) {
    case P_FLOOR:
    case P_FLOOR_INLINE: *(uint32_t *)o = 0; break;
    case P_MP_LOCK:
    case P_MP_LOCK_TRY:
    case P_MP_LOCK_TIMED:
    case P_HPP_MUTEX: CK_MP(mp_lock_init(o)); break;
    case P_MP_RLOCK:
    case P_HPP_RMUTEX: CK_MP(mp_rlock_init(o)); break;
    case P_MP_RLOCK_NESTED:
        CK_MP(mp_rlock_init(o));
        CK_MP(mp_rlock_acquire(o, true, MP_FOREVER));
        break;
    case P_MP_SEM:
    case P_MP_SEM_TIMED: CK_MP(mp_sem_init(o, 1, 2147483647u)); break;
    case P_MP_SEM_UNDO: CK_MP(mp_sem_undo_init(o, 1, MP_SEM_UNDO_VALUE_MAX)); break;
    case P_PT_PSHARED: pt_init(o, 0, 0); break;
    case P_PT_RECURSIVE: pt_init(o, 0, 1); break;
    case P_PT_ROBUST: pt_init(o, 1, 0); break;
    case P_PT_ROBUST_REC: pt_init(o, 1, 1); break;
    case P_PT_ROBUST_REC_NESTED:
        pt_init(o, 1, 1);
        CK0(pthread_mutex_lock(o));
        break;
    case P_SEM_T: CK0(sem_init(o, 1, 1)); break;
#ifdef HAVE_BOOST
    case P_BIP_MUTEX: bip_mutex_init(o); break;
    case P_BIP_RMUTEX: bip_recursive_mutex_init(o); break;
    case P_BIP_SEM: bip_semaphore_init(o, 1); break;
#endif
    case P_MP_ARRAY:
    case P_ARRAY_RAW: arr_slot_init(o); break;
    default: die("p_init: unknown kind", k);
    }
}

/* Acquire and release, specialised per kind where the caller passes a constant. */
static inline __attribute__((always_inline)) void p_acq(int k, void *o) {
    switch (k) {
    case P_FLOOR: mpfloor_lock(o); break;
    case P_FLOOR_INLINE: mpfloor_lock_inline(o); break;
    case P_MP_LOCK: CK_MP(mp_lock_acquire(o, true, MP_FOREVER)); break;
    case P_MP_LOCK_TRY: CK_MP(mp_lock_acquire(o, false, 0)); break;
    case P_MP_LOCK_TIMED: CK_MP(mp_lock_acquire(o, true, 1000)); break;
    case P_MP_RLOCK:
    case P_MP_RLOCK_NESTED: CK_MP(mp_rlock_acquire(o, true, MP_FOREVER)); break;
    case P_MP_SEM: CK_MP(mp_sem_acquire(o, true, MP_FOREVER)); break;
    case P_MP_SEM_UNDO: CK_MP(mp_sem_undo_acquire(o, true, MP_FOREVER)); break;
    case P_MP_SEM_TIMED: CK_MP(mp_sem_acquire(o, true, 1000)); break;
    case P_PT_PSHARED:
    case P_PT_RECURSIVE:
    case P_PT_ROBUST:
    case P_PT_ROBUST_REC:
    case P_PT_ROBUST_REC_NESTED: CK0(pthread_mutex_lock(o)); break;
    case P_SEM_T: CK0(sem_wait(o)); break;
    case P_MP_ARRAY:
    case P_ARRAY_RAW: {
        struct arr_slot *a = o;
        int v;
        arr_get(k, a, &v);
        arr_set(k, a, v + 1);
        break;
    }
    default: die("p_acq: unknown kind", k);
    }
}

static inline __attribute__((always_inline)) void p_rel(int k, void *o) {
    switch (k) {
    case P_FLOOR: mpfloor_unlock(o); break;
    case P_FLOOR_INLINE: mpfloor_unlock_inline(o); break;
    case P_MP_LOCK:
    case P_MP_LOCK_TRY:
    case P_MP_LOCK_TIMED: CK_MP(mp_lock_release(o)); break;
    case P_MP_RLOCK:
    case P_MP_RLOCK_NESTED: CK_MP(mp_rlock_release(o)); break;
    case P_MP_SEM:
    case P_MP_SEM_TIMED: CK_MP(mp_sem_release(o)); break;
    case P_MP_SEM_UNDO: CK_MP(mp_sem_undo_release(o)); break;
    case P_PT_PSHARED:
    case P_PT_RECURSIVE:
    case P_PT_ROBUST:
    case P_PT_ROBUST_REC:
    case P_PT_ROBUST_REC_NESTED: CK0(pthread_mutex_unlock(o)); break;
    case P_SEM_T: CK0(sem_post(o)); break;
    case P_MP_ARRAY:
    case P_ARRAY_RAW: break; /* the whole get+set pair is in p_acq */
    default: die("p_rel: unknown kind", k);
    }
}

static inline __attribute__((always_inline)) void pair_loop(int k, void *o, long n) {
    for (long i = 0; i < n; i++) {
        p_acq(k, o);
        p_rel(k, o);
    }
}

/* n acquire+release pairs of kind k; each case is a loop specialised for its kind
 * (no indirect calls in the measured loop). */
static __attribute__((noinline)) void run_pairs(int k, void *o, long n) {
    switch (k) {
#define CASE(K)                                                                        \
    case K: pair_loop(K, o, n); break;
        CASE(P_FLOOR)
        CASE(P_FLOOR_INLINE)
        CASE(P_MP_LOCK)
        CASE(P_MP_LOCK_TRY)
        CASE(P_MP_LOCK_TIMED)
        CASE(P_MP_RLOCK)
        CASE(P_MP_RLOCK_NESTED)
        CASE(P_MP_SEM)
        CASE(P_MP_SEM_TIMED)
        CASE(P_MP_SEM_UNDO)
        CASE(P_PT_PSHARED)
        CASE(P_PT_RECURSIVE)
        CASE(P_PT_ROBUST)
        CASE(P_PT_ROBUST_REC)
        CASE(P_PT_ROBUST_REC_NESTED)
        CASE(P_SEM_T)
        CASE(P_MP_ARRAY)
        CASE(P_ARRAY_RAW)
#undef CASE
#ifdef HAVE_BOOST
    case P_BIP_MUTEX: bip_mutex_pairs(o, n); break;
    case P_BIP_RMUTEX: bip_recursive_mutex_pairs(o, n); break;
    case P_BIP_SEM: bip_semaphore_pairs(o, n); break;
#endif
#ifdef HAVE_HPP
    case P_HPP_MUTEX: hpp_mutex_pairs(o, n); break;
    case P_HPP_RMUTEX: hpp_recursive_mutex_pairs(o, n); break;
#endif
    default: die("run_pairs: unknown kind", k);
    }
}

/* ------------------------------------------------------------------------------ */
/* Uncontended */

#define U_PAIRS 1000000L
#define U_WARMUP 50000L

/* One timed burst, run below a stack cushion of `cushion` bytes: the stack addresses
 * the primitives use then differ between repetitions, so a primitive whose speed
 * depends on how its stack accesses happen to alias other addresses (4 KiB aliasing)
 * is measured over many alignments instead of one lucky or unlucky one. */
static __attribute__((noinline)) double u_burst(int k, void *o, size_t cushion) {
    volatile char *pad = __builtin_alloca(cushion + 1);
    pad[0] = 0;
    run_pairs(k, o, U_WARMUP);
    double t0 = cpu_ns();
    run_pairs(k, o, U_PAIRS);
    double t1 = cpu_ns();
    pad[cushion] = 0;
    return (t1 - t0) / U_PAIRS;
}

/* Many short repetitions, each measuring every primitive once in a rotated order, so
 * that every primitive sees the same machine states (a shared VM drifts over seconds)
 * and ratios can be taken within a repetition. */
static int cmd_uncontended(int reps, int proc) {
    pin(0);
#ifndef HAVE_BOOST
    printf("N\tBoost.Interprocess rows skipped: Boost headers not available\n");
#else
    printf("N\tBoost.Interprocess %d.%d.%d (Debian libboost-dev, header-only)\n",
           bip_version() / 100000, bip_version() / 100 % 1000, bip_version() % 100);
#endif
    for (int rep = 0; rep < reps; rep++) {
        /* Fresh pages every repetition: on some machines the speed of a line depends on
         * its physical address (observed here for mp_rlock at some page offsets), and a
         * new mapping samples new pages. */
        char *mem = shared_map((size_t)P_COUNT * SLOT);
        for (int k = 0; k < P_COUNT; k++)
            if (available(k)) p_init(k, mem + (size_t)k * SLOT);
        size_t cushion = ((size_t)rep * 1168u) % 4096u; /* 1168 = 73 * 16: visits all 256 slots */
        for (int j = 0; j < P_COUNT; j++) {
            int k = (j + rep * 5) % P_COUNT;
            if (!available(k)) continue;
            double ns = u_burst(k, mem + (size_t)k * SLOT, cushion);
            printf("U\t%d\t%s\t%.2f\t%d\n", rep, NAMES[k], ns, proc);
        }
        /* In-place objects in anonymous memory need no destroy; unmapping ends them.
         * The arrays are mappings of their own. */
        arr_slot_close((struct arr_slot *)(mem + (size_t)P_MP_ARRAY * SLOT));
        arr_slot_close((struct arr_slot *)(mem + (size_t)P_ARRAY_RAW * SLOT));
        munmap(mem, (size_t)P_COUNT * SLOT);
    }
    return 0;
}

/* `ir`: only kind k, `pairs` times (plus init), for callgrind. Two runs with different
 * counts are differenced by the runner, so start-up and init cancel out. */
static int cmd_ir(const char *name, long pairs) {
    for (int k = 0; k < P_COUNT; k++) {
        if (strcmp(name, NAMES[k]) != 0) continue;
        if (!available(k)) die("ir: kind not built in", k);
        char *mem = shared_map(SLOT);
        p_init(k, mem);
        run_pairs(k, mem, pairs);
        return 0;
    }
    fprintf(stderr, "mpbench: unknown kind %s\n", name);
    return 2;
}

static int cmd_list(void) {
    for (int k = 0; k < P_COUNT; k++)
        if (available(k)) printf("%s\n", NAMES[k]);
    return 0;
}

/* ------------------------------------------------------------------------------ */
/* Array scaling: 1 and 2 threads of one process, each on its own synchronized array
 * (mp_array_get + mp_array_set pairs). Threads of a process share the library's
 * private state (the mapping registry), so this shows whether they serialise on it.
 * Output: A rep nthreads wall_pairs_per_s cpu_pairs_per_s, where the second figure
 * sums each thread's pairs per second of its own CPU time (what the threads would do
 * with a CPU each: not inflated by other work on a busy machine). */

#define A_PAIRS 2000000L

struct athread {
    pthread_t t;
    int cpu;
    pthread_barrier_t *start;
    double wall_end, cpu_ns;
};

static void *array_thread(void *p) {
    struct athread *a = p;
    pin(a->cpu);
    struct arr_slot s;
    arr_slot_init(&s);
    run_pairs(P_MP_ARRAY, &s, U_WARMUP);
    pthread_barrier_wait(a->start);
    double c0 = cpu_ns();
    run_pairs(P_MP_ARRAY, &s, A_PAIRS);
    a->cpu_ns = cpu_ns() - c0;
    a->wall_end = now_ns();
    arr_slot_close(&s);
    return NULL;
}

static int cmd_arraythreads(int reps) {
    int ncpu = ncpus();
    for (int rep = 0; rep < reps; rep++) {
        for (int n = 1; n <= 2; n++) {
            struct athread th[2];
            pthread_barrier_t start;
            CK0(pthread_barrier_init(&start, NULL, (unsigned)n + 1));
            for (int i = 0; i < n; i++) {
                th[i].cpu = i % ncpu;
                th[i].start = &start;
                CK0(pthread_create(&th[i].t, NULL, array_thread, &th[i]));
            }
            pthread_barrier_wait(&start);
            double t0 = now_ns(), t1 = t0, cpu_rate = 0;
            for (int i = 0; i < n; i++) {
                CK0(pthread_join(th[i].t, NULL));
                if (th[i].wall_end > t1) t1 = th[i].wall_end;
                cpu_rate += (double)A_PAIRS / (th[i].cpu_ns / 1e9);
            }
            CK0(pthread_barrier_destroy(&start));
            printf("A\t%d\t%d\t%.0f\t%.0f\n", rep, n, (double)A_PAIRS * n / ((t1 - t0) / 1e9),
                   cpu_rate);
            fflush(stdout);
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------------ */
/* Contended: N processes increment a shared counter under the lock. */

#define MAXP 8
/* Busy-loop iterations inside the critical section and between operations (a few
 * tens of ns each): a short critical section with some think time, the usual shape of
 * a lock-contention benchmark (work inside the lock, then "think" outside it). */
#define CS_WORK 20
#define THINK_WORK 20

struct per_proc {
    uint64_t ops;
    uint64_t ctxsw;
    char pad[48];
};

struct cshm {
    uint32_t ready;
    char pad0[60];
    uint32_t go;
    char pad1[60];
    uint32_t stop;
    char pad2[60];
    volatile uint64_t counter;
    char pad3[56];
    struct per_proc per[MAXP];
    char obj[SLOT] __attribute__((aligned(64)));
};

static inline __attribute__((always_inline)) uint64_t contend_loop(int k, void *o,
                                                                    struct cshm *S) {
    uint64_t ops = 0;
    while (!__atomic_load_n(&S->stop, __ATOMIC_RELAXED)) {
        p_acq(k, o);
        S->counter = S->counter + 1;
        spin(CS_WORK);
        p_rel(k, o);
        spin(THINK_WORK);
        ops++;
    }
    return ops;
}

static __attribute__((noinline)) uint64_t contend(int k, void *o, struct cshm *S) {
    switch (k) {
#define CASE(K)                                                                        \
    case K: return contend_loop(K, o, S);
        CASE(P_FLOOR)
        CASE(P_MP_LOCK)
        CASE(P_MP_RLOCK)
        CASE(P_MP_SEM)
        CASE(P_PT_PSHARED)
        CASE(P_PT_ROBUST)
        CASE(P_SEM_T)
        CASE(P_MP_ARRAY)
        CASE(P_ARRAY_RAW)
#undef CASE
    default: die("contend: unsupported kind", k);
    }
    return 0;
}

static uint64_t ctxsw_now(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)ru.ru_nvcsw + (uint64_t)ru.ru_nivcsw;
}

static void contended_once(int rep, int k, int nprocs, double secs) {
    struct cshm *S = shared_map(sizeof(struct cshm));
    p_init(k, S->obj);
    int ncpu = ncpus();
    pid_t pids[MAXP];
    for (int p = 0; p < nprocs; p++) {
        pid_t c = fork();
        if (c < 0) die("fork", errno);
        if (c == 0) {
            alarm(60);
            pin(p % ncpu);
            __atomic_fetch_add(&S->ready, 1, __ATOMIC_SEQ_CST);
            while (!__atomic_load_n(&S->go, __ATOMIC_ACQUIRE)) futex(&S->go, FUTEX_WAIT, 0);
            uint64_t cs0 = ctxsw_now();
            uint64_t ops = contend(k, S->obj, S);
            S->per[p].ops = ops;
            S->per[p].ctxsw = ctxsw_now() - cs0;
            _exit(0);
        }
        pids[p] = c;
    }
    while (__atomic_load_n(&S->ready, __ATOMIC_ACQUIRE) < (uint32_t)nprocs) usleep(200);
    double t0 = now_ns();
    __atomic_store_n(&S->go, 1, __ATOMIC_RELEASE);
    futex(&S->go, FUTEX_WAKE, INT_MAX);
    struct timespec d = {(time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};
    while (nanosleep(&d, &d) != 0 && errno == EINTR) {
    }
    __atomic_store_n(&S->stop, 1, __ATOMIC_RELEASE);
    double t1 = now_ns();
    for (int p = 0; p < nprocs; p++) {
        int st;
        if (waitpid(pids[p], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            die("contended child", st);
    }
    uint64_t total = 0, mn = UINT64_MAX, mx = 0, csw = 0;
    for (int p = 0; p < nprocs; p++) {
        uint64_t o = S->per[p].ops;
        total += o;
        csw += S->per[p].ctxsw;
        if (o < mn) mn = o;
        if (o > mx) mx = o;
    }
    if (S->counter != total) {
        fprintf(stderr, "mpbench: %s with %d processes: counter %llu != %llu operations\n",
                NAMES[k], nprocs, (unsigned long long)S->counter, (unsigned long long)total);
        _exit(4);
    }
    double secs_real = (t1 - t0) / 1e9;
    printf("C\t%d\t%s\t%d\t%.0f\t%.2f\t%.2f\t%.3f\n", rep, NAMES[k], nprocs, total / secs_real,
           total ? 100.0 * (double)mn / (double)total : 0, total ? 100.0 * (double)mx / (double)total : 0,
           total ? 1000.0 * (double)csw / (double)total : 0);
    fflush(stdout);
    munmap(S, sizeof(struct cshm));
}

static int cmd_contended(int reps, double secs) {
    static const int kinds[] = {P_MP_LOCK, P_MP_RLOCK,  P_MP_SEM, P_FLOOR,
                                P_PT_PSHARED, P_PT_ROBUST, P_SEM_T};
    /* 1 process: the same loop without contention, the ceiling for one CPU. */
    static const int procs[] = {1, 2, 4, 8};
    const int nk = (int)(sizeof kinds / sizeof kinds[0]);
    printf("N\tcontended: critical section = counter++ and %d busy iterations; %d busy "
           "iterations between operations; worker i pinned to CPU i mod %d; %.2f s per run\n",
           CS_WORK, THINK_WORK, ncpus(), secs);
    for (int rep = 0; rep < reps; rep++)
        for (int pi = 0; pi < 4; pi++)
            for (int j = 0; j < nk; j++) contended_once(rep, kinds[(j + rep) % nk], procs[pi], secs);
    return 0;
}

/* `contended1 NAME NPROCS REPS SECS`: one configuration only (for profiling it). */
static int cmd_contended1(const char *name, int nprocs, int reps, double secs) {
    if (nprocs < 1 || nprocs > MAXP) die("contended1: 1..8 processes", nprocs);
    for (int k = 0; k < P_COUNT; k++)
        if (!strcmp(name, NAMES[k])) {
            for (int rep = 0; rep < reps; rep++) contended_once(rep, k, nprocs, secs);
            return 0;
        }
    fprintf(stderr, "mpbench: unknown kind %s\n", name);
    return 2;
}

/* ------------------------------------------------------------------------------ */
/* Hand-off: A posts a, B waits a and posts b, A waits b. One-way = round trip / 2. */

static inline __attribute__((always_inline)) void h_post(int k, void *o) {
    switch (k) {
    case P_MP_SEM: CK_MP(mp_sem_release(o)); break;
    case P_MP_LOCK: CK_MP(mp_lock_release(o)); break;
    case P_SEM_T: CK0(sem_post(o)); break;
    default: die("h_post", k);
    }
}

static inline __attribute__((always_inline)) void h_wait(int k, void *o) {
    switch (k) {
    case P_MP_SEM: CK_MP(mp_sem_acquire(o, true, MP_FOREVER)); break;
    case P_MP_LOCK: CK_MP(mp_lock_acquire(o, true, MP_FOREVER)); break;
    case P_SEM_T: CK0(sem_wait(o)); break;
    default: die("h_wait", k);
    }
}

static void h_init_taken(int k, void *o) {
    switch (k) {
    case P_MP_SEM: CK_MP(mp_sem_init(o, 0, 1)); break;
    case P_MP_LOCK:
        CK_MP(mp_lock_init(o));
        CK_MP(mp_lock_acquire(o, false, 0));
        break;
    case P_SEM_T: CK0(sem_init(o, 1, 0)); break;
    default: die("h_init", k);
    }
}

static inline __attribute__((always_inline)) void h_side_b(int k, void *a, void *b, long n) {
    for (long i = 0; i < n; i++) {
        h_wait(k, a);
        h_post(k, b);
    }
}

static inline __attribute__((always_inline)) void h_side_a(int k, void *a, void *b, long n,
                                                           double *rt) {
    for (long i = 0; i < n; i++) {
        double t0 = now_ns();
        h_post(k, a);
        h_wait(k, b);
        rt[i] = now_ns() - t0;
    }
}

static __attribute__((noinline)) void h_run(int side, int k, void *a, void *b, long n,
                                            double *rt) {
    switch (k) {
#define CASE(K)                                                                        \
    case K:                                                                            \
        if (side) h_side_a(K, a, b, n, rt);                                            \
        else h_side_b(K, a, b, n);                                                     \
        break;
        CASE(P_MP_SEM)
        CASE(P_MP_LOCK)
        CASE(P_SEM_T)
        CASE(P_MP_ARRAY)
        CASE(P_ARRAY_RAW)
#undef CASE
    default: die("h_run", k);
    }
}

static void percentiles(double *v, long n, double scale, double *p50, double *p99) {
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    *p50 = v[n / 2] * scale;
    *p99 = v[(n * 99) / 100] * scale;
}

static void handoff_once(int rep, int k, int cpu_a, int cpu_b, long iters, long warm) {
    char *mem = shared_map(2 * SLOT);
    void *a = mem, *b = mem + SLOT;
    h_init_taken(k, a);
    h_init_taken(k, b);
    long total = iters + warm;
    pid_t c = fork();
    if (c < 0) die("fork", errno);
    if (c == 0) {
        alarm(60);
        pin(cpu_b);
        h_run(0, k, a, b, total, NULL);
        _exit(0);
    }
    pin(cpu_a);
    double *rt = malloc(sizeof(double) * (size_t)total);
    if (!rt) die("malloc", 0);
    h_run(1, k, a, b, total, rt);
    int st;
    if (waitpid(c, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) die("handoff child", st);
    double p50, p99;
    /* one-way = round trip / 2, in microseconds */
    percentiles(rt + warm, iters, 0.5e-3, &p50, &p99);
    printf("H\t%d\t%s\t%s\t%.3f\t%.3f\n", rep, NAMES[k], cpu_a == cpu_b ? "same" : "cross", p50,
           p99);
    fflush(stdout);
    free(rt);
    munmap(mem, 2 * SLOT);
}

static int cmd_handoff(int reps) {
    static const int kinds[] = {P_MP_SEM, P_SEM_T, P_MP_LOCK};
    int cross = ncpus() > 1;
    if (!cross) printf("N\thandoff: only one CPU available; cross-CPU rows skipped\n");
    for (int rep = 0; rep < reps; rep++)
        for (int j = 0; j < 3; j++) {
            int k = kinds[(j + rep) % 3];
            if (cross) handoff_once(rep, k, 0, 1, 4000, 300);
            handoff_once(rep, k, 0, 0, 20000, 1000);
        }
    return 0;
}

/* ------------------------------------------------------------------------------ */
/* Condition round trip: A sets turn=1, notifies, waits for turn==0; B waits for
 * turn==1, sets turn=0, notifies. One round trip = two notify->wake->re-acquire
 * hand-offs. pthread_cond_t (pshared) + pthread_mutex_t (pshared) is the anchor. */

enum { V_PTHREAD, V_MP_RLOCK, V_MP_LOCK };

struct vshm {
    uint32_t turn;
    char pad[60];
    pthread_mutex_t pm __attribute__((aligned(64)));
    pthread_cond_t pc __attribute__((aligned(64)));
    char rlock[SLOT] __attribute__((aligned(64)));
    char lock[SLOT] __attribute__((aligned(64)));
};

/* The Condition round trip. */
static mp_cond_t *g_cond;

static inline __attribute__((always_inline)) void v_lock(int v, struct vshm *S) {
    switch (v) {
    case V_PTHREAD: CK0(pthread_mutex_lock(&S->pm)); break;
    case V_MP_RLOCK: CK_MP(mp_rlock_acquire((mp_rlock_t *)S->rlock, true, MP_FOREVER)); break;
    case V_MP_LOCK: CK_MP(mp_lock_acquire((mp_lock_t *)S->lock, true, MP_FOREVER)); break;
    }
}
static inline __attribute__((always_inline)) void v_unlock(int v, struct vshm *S) {
    switch (v) {
    case V_PTHREAD: CK0(pthread_mutex_unlock(&S->pm)); break;
    case V_MP_RLOCK: CK_MP(mp_rlock_release((mp_rlock_t *)S->rlock)); break;
    case V_MP_LOCK: CK_MP(mp_lock_release((mp_lock_t *)S->lock)); break;
    }
}
static inline __attribute__((always_inline)) void v_wait(int v, struct vshm *S) {
    switch (v) {
    case V_PTHREAD: CK0(pthread_cond_wait(&S->pc, &S->pm)); break;
    case V_MP_RLOCK: CK_MP(mp_cond_wait(g_cond, (mp_rlock_t *)S->rlock, MP_FOREVER)); break;
    case V_MP_LOCK: CK_MP(mp_cond_wait_lock(g_cond, (mp_lock_t *)S->lock, MP_FOREVER)); break;
    }
}
static inline __attribute__((always_inline)) void v_notify(int v, struct vshm *S) {
    switch (v) {
    case V_PTHREAD: CK0(pthread_cond_signal(&S->pc)); break;
    case V_MP_RLOCK:
    case V_MP_LOCK: CK_MP(mp_cond_notify(g_cond, 1)); break;
    }
}

static inline __attribute__((always_inline)) void v_side(int v, int side, struct vshm *S, long n,
                                                         double *rt) {
    uint32_t mine = side ? 0 : 1, next = side ? 1 : 0;
    for (long i = 0; i < n; i++) {
        double t0 = side ? now_ns() : 0;
        v_lock(v, S);
        if (side) {
            S->turn = next;
            v_notify(v, S);
            while (S->turn != mine) v_wait(v, S);
        } else {
            while (S->turn != mine) v_wait(v, S);
            S->turn = next;
            v_notify(v, S);
        }
        v_unlock(v, S);
        if (side) rt[i] = now_ns() - t0;
    }
}

static __attribute__((noinline)) void v_run(int v, int side, struct vshm *S, long n, double *rt) {
    switch (v) {
    case V_PTHREAD: v_side(V_PTHREAD, side, S, n, rt); break;
    case V_MP_RLOCK: v_side(V_MP_RLOCK, side, S, n, rt); break;
    case V_MP_LOCK: v_side(V_MP_LOCK, side, S, n, rt); break;
    }
}

static void cond_once(int rep, int v, int cpu_a, int cpu_b, long iters, long warm) {
    static const char *const vnames[] = {"pthread_cond", "mp_cond_rlock", "mp_cond_lock"};
    struct vshm *S = shared_map(sizeof(struct vshm));
    pthread_mutexattr_t ma;
    pthread_condattr_t ca;
    CK0(pthread_mutexattr_init(&ma));
    CK0(pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED));
    CK0(pthread_mutex_init(&S->pm, &ma));
    CK0(pthread_condattr_init(&ca));
    CK0(pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED));
    CK0(pthread_cond_init(&S->pc, &ca));
    CK_MP(mp_rlock_init((mp_rlock_t *)S->rlock));
    CK_MP(mp_lock_init((mp_lock_t *)S->lock));
    CK_MP(mp_cond_new(&g_cond)); /* anonymous shared mapping, inherited by fork */
    long total = iters + warm;
    pid_t c = fork();
    if (c < 0) die("fork", errno);
    if (c == 0) {
        alarm(60);
        pin(cpu_b);
        v_run(v, 0, S, total, NULL);
        _exit(0);
    }
    pin(cpu_a);
    double *rt = malloc(sizeof(double) * (size_t)total);
    if (!rt) die("malloc", 0);
    v_run(v, 1, S, total, rt);
    int st;
    if (waitpid(c, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) die("cond child", st);
    double p50, p99;
    percentiles(rt + warm, iters, 1e-3, &p50, &p99); /* round trip, microseconds */
    printf("V\t%d\t%s\t%s\t%.3f\t%.3f\n", rep, vnames[v], cpu_a == cpu_b ? "same" : "cross", p50,
           p99);
    fflush(stdout);
    free(rt);
    CK_MP(mp_cond_close(g_cond));
    munmap(S, sizeof(struct vshm));
}

/* `cond1`: one Condition configuration (for profiling, e.g. under `perf stat -e
 * 'syscalls:sys_enter_futex,context-switches'`): variant by name, same or different
 * CPUs, `iters` round trips. */
static int cmd_cond1(const char *name, const char *placement, long iters) {
    static const char *const vnames[] = {"pthread_cond", "mp_cond_rlock", "mp_cond_lock"};
    for (int v = 0; v < 3; v++) {
        if (strcmp(name, vnames[v]) != 0) continue;
        int same = strcmp(placement, "same") == 0;
        cond_once(0, v, 0, same ? 0 : 1, iters, 0);
        return 0;
    }
    fprintf(stderr, "mpbench: unknown Condition variant %s\n", name);
    return 2;
}

static int cmd_cond(int reps) {
    int cross = ncpus() > 1;
    for (int rep = 0; rep < reps; rep++)
        for (int j = 0; j < 3; j++) {
            int v = (j + rep) % 3;
            if (cross) cond_once(rep, v, 0, 1, 3000, 200);
            cond_once(rep, v, 0, 0, 10000, 500);
        }
    return 0;
}

/* ------------------------------------------------------------------------------ */

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: mpbench uncontended|contended|handoff|cond|ir|list ...\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* A hang (e.g. a lost wake-up in the library under test) must not stall the runner:
     * SIGALRM ends this phase; forked children set their own alarms. */
    alarm(280);
    const char *cmd = argv[1];
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    if (reps < 1) reps = 1;
    if (!strcmp(cmd, "uncontended")) return cmd_uncontended(reps, argc > 3 ? atoi(argv[3]) : 0);
    if (!strcmp(cmd, "contended")) return cmd_contended(reps, argc > 3 ? atof(argv[3]) : 0.4);
    if (!strcmp(cmd, "contended1") && argc == 6) return cmd_contended1(argv[2], atoi(argv[3]), atoi(argv[4]), atof(argv[5]));
    if (!strcmp(cmd, "handoff")) return cmd_handoff(reps);
    if (!strcmp(cmd, "cond")) return cmd_cond(reps);
    if (!strcmp(cmd, "cond1") && argc == 5) return cmd_cond1(argv[2], argv[3], atol(argv[4]));
    if (!strcmp(cmd, "arraythreads")) return cmd_arraythreads(reps);
    if (!strcmp(cmd, "list")) return cmd_list();
    if (!strcmp(cmd, "ir") && argc == 4) return cmd_ir(argv[2], atol(argv[3]));
    fprintf(stderr, "mpbench: bad arguments\n");
    return 2;
}
