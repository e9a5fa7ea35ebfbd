/*
 * mp_rwlock_t with real processes: errors (re-entry, upgrade, wrong releases, close while
 * holding, the reader-slot limit), owner death of a writer and of a reader (told exactly
 * once), fairness both ways, and the kill loop (>= 2,000 SIGKILLs of random readers and
 * writers, threads and processes mixed).
 */
#define MPT_CHILD_MAIN
#include "mptest.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/mount.h>
#include <sys/prctl.h>

/* Exec'ed child: `die NAME read|write` opens the named lock, takes one side, and dies
 * holding it (with whatever robust mode its environment gives it); `hold NAME
 * read|write EVENT` holds it until the named event is set, then releases. */
static int mpt_child(int argc, char **argv) {
    if (argc < 3 || (strcmp(argv[0], "die") != 0 && strcmp(argv[0], "hold") != 0)) return 64;
    mp_rwlock_t *rw;
    if (mp_rwlock_open(argv[1], 0, 0, &rw) != MP_OK) return 2;
    int write = strcmp(argv[2], "write") == 0;
    mp_status st = write ? mp_rwlock_acquire_write(rw, true, 10000) : mp_rwlock_acquire_read(rw, true, 10000);
    if (st != MP_OK) return 3;
    if (strcmp(argv[0], "die") == 0) {
        raise(SIGKILL);
        return 4;
    }
    mp_event_t *ev;
    if (argc != 4 || mp_event_open(argv[3], 0, 0, &ev) != MP_OK) return 5;
    if (mp_event_wait(ev, 30000) != MP_OK) return 6;
    st = write ? mp_rwlock_release_write(rw) : mp_rwlock_release_read(rw);
    return st == MP_OK ? 0 : 7;
}

/* Runs `--child ARGS...` as PID 2 of a new PID namespace with its own /proc (a
 * container: unshare -p -f --mount-proc), robust mode as `robust` says; returns the pid
 * of the namespace's init (in our namespace), which exits with the child's status
 * (77/78: namespaces unavailable here). */
static pid_t in_container(const char *const *args, int robust) {
    char exe[512];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK(n > 0);
    exe[n] = 0;
    pid_t outer = fork();
    CHECK(outer >= 0);
    if (outer != 0) return outer;
    if (unshare(CLONE_NEWPID | CLONE_NEWNS) != 0) _exit(77);
    pid_t init = fork();
    if (init != 0) {
        int st = 0;
        waitpid(init, &st, 0);
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st));
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) _exit(78);
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) _exit(78);
    if (!robust) setenv("MPSYNC_NO_ROBUST", "1", 1);
    /* Not PID 1 (which SIGKILL from inside cannot kill): a child of it. */
    pid_t child = fork();
    if (child == 0) {
        char *argv[8] = {exe, (char *)"--child"};
        int k = 2;
        while (*args && k < 7) argv[k++] = (char *)*args++;
        argv[k] = NULL;
        execv(exe, argv);
        _exit(127);
    }
    int st = 0;
    waitpid(child, &st, 0);
    _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st));
}

/* A writer and a reader in another PID namespace die holding (robust mode on): the
 * kernel still marks their words (it compares TIDs in the dying thread's own
 * namespace), and one acquirer here is told. */
TEST(rwlock_holders_in_another_pid_namespace_are_reported_by_the_kernel) {
    char name[64];
    mpt_name(name, sizeof name, "rw-ns");
    mp_rwlock_t *rw;
    CHECK_OK(mp_rwlock_open(name, MP_CREATE | MP_EXCL, 0600, &rw));
    const char *sides[2] = {"write", "read"};
    for (int i = 0; i < 2; i++) {
        const char *args[] = {"die", name, sides[i], NULL};
        int st = 0;
        pid_t outer = in_container(args, 1);
        CHECK(waitpid(outer, &st, 0) == outer);
        if (WIFEXITED(st) && (WEXITSTATUS(st) == 77 || WEXITSTATUS(st) == 78)) {
            fprintf(stderr, "SKIP: PID/mount namespaces unavailable (needs root)\n");
            break;
        }
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 100 + SIGKILL);
        CHECK_ST(mp_rwlock_acquire_write(rw, true, 10000), MP_OWNER_DEAD);
        CHECK_OK(mp_rwlock_release_write(rw));
        CHECK_OK(mp_rwlock_acquire_read(rw, false, 0));
        CHECK_OK(mp_rwlock_release_read(rw));
    }
    CHECK_OK(mp_rwlock_close(rw));
    CHECK_OK(mp_unlink(name));
}

/* A live holder in another PID namespace with robust mode off: its ids mean nothing in
 * our /proc, so the back-stop never takes the lock from it; we wait, then get it
 * normally once it releases. */
TEST(rwlock_back_stop_leaves_a_live_holder_in_another_pid_namespace_alone) {
    char name[64], ev_name[64];
    mpt_name(name, sizeof name, "rw-nsb");
    mpt_name(ev_name, sizeof ev_name, "rw-nsb-ev");
    mp_rwlock_t *rw;
    mp_event_t *ev;
    CHECK_OK(mp_rwlock_open(name, MP_CREATE | MP_EXCL, 0600, &rw));
    CHECK_OK(mp_event_open(ev_name, MP_CREATE | MP_EXCL, 0600, &ev));
    const char *args[] = {"hold", name, "write", ev_name, NULL};
    pid_t outer = in_container(args, 0);
    double t0 = mpt_now_ms();
    bool writer_seen = false;
    while (mpt_now_ms() - t0 < 10000) {
        mp_status st = mp_rwlock_acquire_read(rw, false, 0);
        if (st == MP_TIMEOUT) { writer_seen = true; break; }
        CHECK_OK(st);
        CHECK_OK(mp_rwlock_release_read(rw));
        int wst = 0;
        if (waitpid(outer, &wst, WNOHANG) == outer) {
            CHECK(WIFEXITED(wst) && (WEXITSTATUS(wst) == 77 || WEXITSTATUS(wst) == 78));
            fprintf(stderr, "SKIP: PID/mount namespaces unavailable (needs root)\n");
            mp_event_close(ev);
            mp_unlink(ev_name);
            mp_rwlock_close(rw);
            mp_unlink(name);
            return;
        }
        usleep(1000);
    }
    CHECK(writer_seen);
    /* Several back-stop rounds (250 ms each): never taken over. */
    CHECK_ST(mp_rwlock_acquire_write(rw, true, 1500), MP_TIMEOUT);
    CHECK_ST(mp_rwlock_acquire_read(rw, true, 600), MP_TIMEOUT);
    CHECK_OK(mp_event_set(ev));
    mpt_wait_ok(outer);
    CHECK_OK(mp_rwlock_acquire_write(rw, true, 5000));
    CHECK_OK(mp_rwlock_release_write(rw));
    CHECK_OK(mp_event_close(ev));
    CHECK_OK(mp_unlink(ev_name));
    CHECK_OK(mp_rwlock_close(rw));
    CHECK_OK(mp_unlink(name));
}

/* Robust mode off in the dying holder: nothing is linked, the kernel marks nothing, and
 * the waiter's /proc back-stop finds the death (same PID namespace), told once. */
TEST(rwlock_robust_mode_off_deaths_found_by_the_back_stop) {
    char name[64];
    mpt_name(name, sizeof name, "rw-norobust");
    mp_rwlock_t *rw;
    CHECK_OK(mp_rwlock_open(name, MP_CREATE | MP_EXCL, 0600, &rw));
    const char *sides[2] = {"write", "read"};
    for (int i = 0; i < 2; i++) {
        setenv("MPSYNC_NO_ROBUST", "1", 1);
        const char *args[] = {"die", name, sides[i], NULL};
        pid_t pid = mpt_spawn_child(args);
        unsetenv("MPSYNC_NO_ROBUST");
        int st = 0;
        CHECK(waitpid(pid, &st, 0) == pid);
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        double t0 = mpt_now_ms();
        CHECK_ST(mp_rwlock_acquire_write(rw, true, 20000), MP_OWNER_DEAD);
        printf("  a %s holder without robust list: found after %.0f ms\n", sides[i], mpt_now_ms() - t0);
        CHECK_OK(mp_rwlock_release_write(rw));
        CHECK_OK(mp_rwlock_acquire_write(rw, false, 0));
        CHECK_OK(mp_rwlock_release_write(rw));
    }
    CHECK_OK(mp_rwlock_close(rw));
    CHECK_OK(mp_unlink(name));
}

/* a[0]: the lock; a[1]: write side; a[2]: NULL, or a shared counter of the deaths this
 * acquirer was told of (a later acquirer that is told may itself be the next to die). */
static int die_holding(void *p) {
    void **a = p;
    mp_rwlock_t *rw = a[0];
    int write = (int)(intptr_t)a[1];
    int *told = a[2];
    mp_status st = write ? mp_rwlock_acquire_write(rw, true, 10000) : mp_rwlock_acquire_read(rw, true, 10000);
    if (st == MP_OWNER_DEAD && told) __atomic_fetch_add(told, 1, __ATOMIC_SEQ_CST);
    else if (st != MP_OK) return 2;
    raise(SIGKILL);
    return 3;
}

static void kill_holder_and_check(mp_rwlock_t *rw, int write, int told_as_writer) {
    void *a[3] = {rw, (void *)(intptr_t)write, NULL};
    pid_t pid = mpt_fork(die_holding, a);
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    if (told_as_writer) {
        CHECK_ST(mp_rwlock_acquire_write(rw, true, 10000), MP_OWNER_DEAD);
        CHECK_OK(mp_rwlock_release_write(rw));
    } else {
        CHECK_ST(mp_rwlock_acquire_read(rw, true, 10000), MP_OWNER_DEAD);
        CHECK_OK(mp_rwlock_release_read(rw));
    }
    /* Told exactly once: the next acquisitions of either side are plain. */
    CHECK_OK(mp_rwlock_acquire_write(rw, false, 0));
    CHECK_OK(mp_rwlock_release_write(rw));
    CHECK_OK(mp_rwlock_acquire_read(rw, false, 0));
    CHECK_OK(mp_rwlock_release_read(rw));
}

TEST(rwlock_writer_death_told_once_to_a_reader_or_a_writer) {
    mp_rwlock_t *rw;
    CHECK_OK(mp_rwlock_new(&rw));
    kill_holder_and_check(rw, 1, 0);
    kill_holder_and_check(rw, 1, 1);
    CHECK_OK(mp_rwlock_close(rw));
}

TEST(rwlock_reader_death_told_once_and_never_blocks_writers) {
    mp_rwlock_t *rw;
    CHECK_OK(mp_rwlock_new(&rw));
    kill_holder_and_check(rw, 0, 1);
    /* Three readers die holding: three deaths, three acquisitions told. A later reader
     * may be the one told of an earlier reader's death (its slot search passed the dead
     * slot) before it dies in turn: the children's reports count too. */
    int *children_told = mpt_shared(sizeof *children_told);
    for (int i = 0; i < 3; i++) {
        void *a[3] = {rw, (void *)(intptr_t)0, children_told};
        pid_t pid = mpt_fork(die_holding, a);
        int st = 0;
        CHECK(waitpid(pid, &st, 0) == pid);
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    }
    int told = 0;
    for (int i = 0; i < 5; i++) {
        mp_status st = mp_rwlock_acquire_write(rw, true, 10000);
        CHECK(st == MP_OK || st == MP_OWNER_DEAD);
        told += st == MP_OWNER_DEAD;
        CHECK_OK(mp_rwlock_release_write(rw));
    }
    CHECK(told + __atomic_load_n(children_told, __ATOMIC_SEQ_CST) == 3);
    CHECK_OK(mp_rwlock_close(rw));
}

TEST(rwlock_errors_reentry_upgrade_wrong_release_close_busy) {
    mp_rwlock_t *rw;
    CHECK_OK(mp_rwlock_new(&rw));
    uint32_t level = 9;
    bool writer = true;
    CHECK_ST(mp_rwlock_release_read(rw), MP_ENOTOWNER);
    CHECK_ST(mp_rwlock_release_write(rw), MP_ENOTOWNER);
    /* Read re-entry is supported (a level). */
    CHECK_OK(mp_rwlock_acquire_read(rw, true, -1));
    CHECK_OK(mp_rwlock_acquire_read(rw, true, -1));
    CHECK_OK(mp_rwlock_read_level(rw, &level));
    CHECK(level == 2);
    /* Upgrade refused at once, never a silent deadlock. */
    CHECK_ST(mp_rwlock_acquire_write(rw, true, -1), MP_EDEADLK);
    CHECK_ST(mp_rwlock_release_write(rw), MP_ENOTOWNER);
    /* Closing while holding: busy, nothing changed. */
    CHECK_ST(mp_rwlock_close(rw), MP_EBUSY);
    CHECK_OK(mp_rwlock_release_read(rw));
    CHECK_OK(mp_rwlock_release_read(rw));
    CHECK_ST(mp_rwlock_release_read(rw), MP_ENOTOWNER);
    CHECK_OK(mp_rwlock_acquire_write(rw, false, 0));
    CHECK_OK(mp_rwlock_is_writer(rw, &writer));
    CHECK(writer);
    CHECK_ST(mp_rwlock_acquire_write(rw, true, -1), MP_EDEADLK);
    CHECK_ST(mp_rwlock_acquire_read(rw, true, -1), MP_EDEADLK);
    CHECK_ST(mp_rwlock_close(rw), MP_EBUSY);
    CHECK_ST(mp_rwlock_release_read(rw), MP_ENOTOWNER);
    CHECK_OK(mp_rwlock_release_write(rw));
    CHECK_OK(mp_rwlock_close(rw));
    CHECK_ST(mp_rwlock_close(rw), MP_EBADOBJ);
    /* In place: destroy while held is busy; NULL and misaligned are invalid. */
    mp_rwlock_t *mem = mpt_shared(MP_RWLOCK_SIZE);
    CHECK_OK(mp_rwlock_init(mem));
    CHECK_OK(mp_rwlock_acquire_read(mem, false, 0));
    CHECK_ST(mp_rwlock_destroy(mem), MP_EBUSY);
    CHECK_OK(mp_rwlock_release_read(mem));
    CHECK_OK(mp_rwlock_destroy(mem));
    CHECK_ST(mp_rwlock_acquire_read(mem, false, 0), MP_EBADOBJ);
    CHECK_ST(mp_rwlock_init(NULL), MP_EINVAL);
    CHECK_ST(mp_rwlock_acquire_read(NULL, false, 0), MP_EINVAL);
    CHECK_ST(mp_rwlock_init((mp_rwlock_t *)((char *)mem + 4)), MP_EINVAL);
}

/* ---- the reader-slot limit --------------------------------------------------------- */

struct hold_arg {
    mp_rwlock_t *rw;
    atomic_int *held, *stop;
    mp_status got;
};

static void *hold_read(void *p) {
    struct hold_arg *a = p;
    a->got = mp_rwlock_acquire_read(a->rw, true, 20000);
    if (a->got == MP_OK) {
        atomic_fetch_add(a->held, 1);
        while (!atomic_load(a->stop)) usleep(1000);
        mp_rwlock_release_read(a->rw);
    }
    return NULL;
}

TEST(rwlock_past_the_reader_limit_is_busy_waiters_use_no_slot) {
    mp_rwlock_t *rw;
    CHECK_OK(mp_rwlock_new(&rw));
    atomic_int held = 0, stop = 0;
    pthread_t t[MP_RWLOCK_READERS];
    struct hold_arg a[MP_RWLOCK_READERS];
    /* The writer holds first: all 64 readers wait, holding no slot... */
    CHECK_OK(mp_rwlock_acquire_write(rw, false, 0));
    for (int i = 0; i < MP_RWLOCK_READERS; i++) {
        a[i] = (struct hold_arg){rw, &held, &stop, 0};
        CHECK(pthread_create(&t[i], NULL, hold_read, &a[i]) == 0);
    }
    usleep(100000);
    CHECK(atomic_load(&held) == 0);
    /* ... so one more thread (this one, after the release) finds the slots taken only
     * once all 64 got in. */
    CHECK_OK(mp_rwlock_release_write(rw));
    double t0 = mpt_now_ms();
    while (atomic_load(&held) < MP_RWLOCK_READERS && mpt_now_ms() - t0 < 20000) usleep(1000);
    CHECK(atomic_load(&held) == MP_RWLOCK_READERS);
    CHECK_ST(mp_rwlock_acquire_read(rw, true, 1000), MP_EBUSY);
    atomic_store(&stop, 1);
    for (int i = 0; i < MP_RWLOCK_READERS; i++) {
        pthread_join(t[i], NULL);
        CHECK_OK(a[i].got);
    }
    CHECK_OK(mp_rwlock_acquire_read(rw, false, 0));
    CHECK_OK(mp_rwlock_release_read(rw));
    CHECK_OK(mp_rwlock_close(rw));
}

/* ---- fairness ---------------------------------------------------------------------- */

struct stream_shared {
    atomic_int stop;
    atomic_long rounds;
};

struct stream_arg {
    mp_rwlock_t *rw;
    struct stream_shared *s;
    int write;
};

static int stream(void *p) {
    struct stream_arg *a = p;
    while (!atomic_load(&a->s->stop)) {
        mp_status st = a->write ? mp_rwlock_acquire_write(a->rw, true, 30000) : mp_rwlock_acquire_read(a->rw, true, 30000);
        if (st != MP_OK) return 2;
        usleep(300); /* a long hold, so that holds overlap */
        st = a->write ? mp_rwlock_release_write(a->rw) : mp_rwlock_release_read(a->rw);
        if (st != MP_OK) return 3;
        atomic_fetch_add(&a->s->rounds, 1);
    }
    return 0;
}

/* While 3 processes keep one side busy, the other side gets in 30 times; the deadline
 * only stops a hang (the bound is one hold), and the worst wait is printed. */
static void fairness(int stream_writes) {
    mp_rwlock_t *rw;
    CHECK_OK(mp_rwlock_new(&rw));
    struct stream_shared *s = mpt_shared(sizeof *s);
    struct stream_arg a = {rw, s, stream_writes};
    pid_t pids[3];
    for (int i = 0; i < 3; i++) pids[i] = mpt_fork(stream, &a);
    while (atomic_load(&s->rounds) < 30) usleep(1000);
    double worst = 0;
    for (int i = 0; i < 30; i++) {
        double t0 = mpt_now_ms();
        if (stream_writes) {
            CHECK_OK(mp_rwlock_acquire_read(rw, true, 30000));
            CHECK_OK(mp_rwlock_release_read(rw));
        } else {
            CHECK_OK(mp_rwlock_acquire_write(rw, true, 30000));
            CHECK_OK(mp_rwlock_release_write(rw));
        }
        double w = mpt_now_ms() - t0;
        if (w > worst) worst = w;
        usleep(1000);
    }
    atomic_store(&s->stop, 1);
    for (int i = 0; i < 3; i++) mpt_wait_ok(pids[i]);
    printf("  a %s among 3 %s processes: worst wait %.2f ms over 30 acquisitions\n",
           stream_writes ? "reader" : "writer", stream_writes ? "writer" : "reader", worst);
    CHECK_OK(mp_rwlock_close(rw));
}

TEST(rwlock_a_reader_stream_lets_a_writer_in) { fairness(0); }
TEST(rwlock_a_writer_stream_lets_a_reader_in) { fairness(1); }

/* ---- the kill loop ----------------------------------------------------------------- */

#define KL_WORKERS 4
#define KL_THREADS 3 /* per worker process, at most */
enum { PH_IDLE, PH_ACQ, PH_READ, PH_WRITE, PH_REL };

struct rwkl {
    mp_rwlock_t rw;
    atomic_int phase[KL_WORKERS][KL_THREADS];
    atomic_int killing[KL_WORKERS];
    atomic_long reports, failures, ops;
    atomic_int stop;
    char failure[200];
};

static void rwkl_fail(struct rwkl *s, const char *what, mp_status st) {
    if (atomic_fetch_add(&s->failures, 1) == 0)
        snprintf(s->failure, sizeof s->failure, "%s: %s", what, mp_status_name(st));
}

/* No writer together with any other holder (holders being killed are left out: their
 * phase may lag behind their death). */
static void rwkl_check(struct rwkl *s, int w, int t, int writing) {
    for (int i = 0; i < KL_WORKERS; i++) {
        if (atomic_load(&s->killing[i])) continue;
        for (int j = 0; j < KL_THREADS; j++) {
            if (i == w && j == t) continue;
            int ph = atomic_load(&s->phase[i][j]);
            if (ph == PH_WRITE || (writing && ph == PH_READ)) rwkl_fail(s, writing ? "a writer with another holder" : "a reader with a writer", MP_OK);
        }
    }
}

struct rwkl_thread {
    struct rwkl *s;
    int w, t;
    unsigned seed;
};

static void *rwkl_thread(void *p) {
    struct rwkl_thread *a = p;
    struct rwkl *s = a->s;
    atomic_int *ph = &s->phase[a->w][a->t];
    while (!atomic_load(&s->stop)) {
        int write = rand_r(&a->seed) % 3 == 0;
        atomic_store(ph, PH_ACQ);
        mp_status st = write ? mp_rwlock_acquire_write(&s->rw, true, 10000) : mp_rwlock_acquire_read(&s->rw, true, 10000);
        if (st != MP_OK && st != MP_OWNER_DEAD) {
            rwkl_fail(s, write ? "acquire_write (deadlock?)" : "acquire_read (deadlock?)", st);
            atomic_store(ph, PH_IDLE);
            return NULL;
        }
        atomic_store(ph, write ? PH_WRITE : PH_READ);
        if (st == MP_OWNER_DEAD) atomic_fetch_add(&s->reports, 1);
        rwkl_check(s, a->w, a->t, write);
        /* Hold a while now and then, so that many kills find the lock held. */
        if (rand_r(&a->seed) % 2 == 0) usleep(100);
        else for (volatile int spin = 0; spin < 300; spin++) {}
        rwkl_check(s, a->w, a->t, write);
        atomic_store(ph, PH_REL);
        st = write ? mp_rwlock_release_write(&s->rw) : mp_rwlock_release_read(&s->rw);
        if (st != MP_OK) rwkl_fail(s, "release", st);
        atomic_store(ph, PH_IDLE);
        atomic_fetch_add(&s->ops, 1);
        usleep(20 + rand_r(&a->seed) % 100); /* leave the CPUs to the others and the killer */
    }
    return NULL;
}

static int rwkl_worker(void *p) {
    struct rwkl_thread *a = p;
    int n = 1 + (int)(a->seed % KL_THREADS); /* 1..3 threads: single- and multi-threaded victims */
    pthread_t t[KL_THREADS];
    struct rwkl_thread ta[KL_THREADS];
    for (int i = 0; i < n; i++) {
        ta[i] = *a;
        ta[i].t = i;
        ta[i].seed = a->seed * 7 + (unsigned)i;
        if (i > 0) pthread_create(&t[i], NULL, rwkl_thread, &ta[i]);
    }
    rwkl_thread(&ta[0]);
    for (int i = 1; i < n; i++) pthread_join(t[i], NULL);
    return 0;
}

static pid_t rwkl_spawn(struct rwkl *s, int w, unsigned seed) {
    struct rwkl_thread a = {s, w, 0, seed};
    return mpt_fork(rwkl_worker, &a);
}

TEST(rwlock_kill_loop_2000_sigkills) {
    long kills_wanted = getenv("MPSYNC_RWLOCK_KILLS") ? atol(getenv("MPSYNC_RWLOCK_KILLS")) : 2000;
    struct rwkl *s = mpt_shared(sizeof *s);
    CHECK_OK(mp_rwlock_init(&s->rw));
    unsigned seed = (unsigned)getpid();
    pid_t pids[KL_WORKERS];
    for (int i = 0; i < KL_WORKERS; i++) pids[i] = rwkl_spawn(s, i, seed + (unsigned)i);
    long holding = 0, ambiguous = 0, kills = 0;
    double t0 = mpt_now_ms();
    while (kills < kills_wanted && atomic_load(&s->failures) == 0) {
        usleep(rand_r(&seed) % 400);
        int v = (int)(rand_r(&seed) % KL_WORKERS);
        atomic_store(&s->killing[v], 1);
        CHECK(kill(pids[v], SIGKILL) == 0);
        int st = 0;
        CHECK(waitpid(pids[v], &st, 0) == pids[v]);
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        kills++;
        for (int j = 0; j < KL_THREADS; j++) {
            int ph = atomic_exchange(&s->phase[v][j], PH_IDLE);
            holding += ph == PH_READ || ph == PH_WRITE;
            ambiguous += ph == PH_ACQ || ph == PH_REL;
        }
        atomic_store(&s->killing[v], 0);
        pids[v] = rwkl_spawn(s, v, rand_r(&seed));
    }
    atomic_store(&s->stop, 1);
    for (int i = 0; i < KL_WORKERS; i++) mpt_wait_ok(pids[i]);
    /* Collect the reports still waiting: every acquisition takes at most one. */
    long flushed = 0;
    for (;;) {
        mp_status st = mp_rwlock_acquire_write(&s->rw, true, 10000);
        CHECK(st == MP_OK || st == MP_OWNER_DEAD);
        CHECK_OK(mp_rwlock_release_write(&s->rw));
        if (st == MP_OK) break;
        flushed++;
    }
    long reports = atomic_load(&s->reports) + flushed;
    printf("  %ld SIGKILLs in %.1f s, %ld ops; killed holding %ld, inside acquire/release %ld; "
           "MP_OWNER_DEAD told %ld times (%ld at the end)\n",
           kills, (mpt_now_ms() - t0) / 1000, atomic_load(&s->ops), holding, ambiguous, reports, flushed);
    if (atomic_load(&s->failures)) {
        fprintf(stderr, "kill loop failure: %s\n", s->failure);
        CHECK(0);
    }
    CHECK(kills >= kills_wanted);
    /* Every death told once: each death of a holder is told, nobody else's (a thread
     * killed inside acquire may have been the one told, or have held the lock already). */
    CHECK(reports + ambiguous >= holding);
    CHECK(reports <= holding + ambiguous);
    CHECK_OK(mp_rwlock_destroy(&s->rw));
}
