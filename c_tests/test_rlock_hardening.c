/* RLock hardening: the /proc back-stop across PID namespaces and /proc mounts, peers that
 * scribble on a held lock, and closing or destroying a lock the caller holds. */
#define MPT_CHILD_MAIN
#include "mpt_util.h"
#include <sys/mount.h>

/* ---- an exec'ed holder (a process that starts with its own environment) ----------- */

struct ns_shared {
    mp_rlock_t lock;
    volatile int holds;          /* 1 once the holder has the lock */
    volatile int holder_mode;    /* the holder's mp_robust_mode() */
    volatile int holder_pid;     /* getpid() in the holder's own namespace */
    volatile int release_now;    /* set by the test: release and exit */
    volatile int release_status; /* what the holder's release returned */
    volatile int waiter_status;
    volatile int skip;           /* the setup could not be built here */
};

static void wait_flag_or_exit(volatile int *flag, int secs) {
    double t0 = mpt_now_ms();
    while (!*flag) {
        if (mpt_now_ms() - t0 > secs * 1000.0) _exit(90);
        usleep(500);
    }
}

/* Child program: "hold <file>": maps the shared file, takes the lock, waits for
 * release_now, releases, and records the release's status. */
/* Child program: "recover <file>", run as PID 1 of a container with its own /proc and
 * robust mode off: a holder it forks is killed; the back-stop must recover the lock
 * (its /proc is provably its namespace's, and the owner is in that namespace). */
static int container_recover(struct ns_shared *s) {
    if (mp_rlock_init(&s->lock) != MP_OK) return 10;
    s->holder_mode = mp_robust_mode();
    pid_t h = fork();
    if (h == 0) {
        if (mp_rlock_acquire(&s->lock, true, MP_FOREVER) != MP_OK) _exit(3);
        s->holds = 1;
        for (;;) pause();
    }
    wait_flag_or_exit(&s->holds, 10);
    kill(h, SIGKILL);
    waitpid(h, NULL, 0);
    s->waiter_status = mp_rlock_acquire(&s->lock, true, 10000);
    if (s->waiter_status == MP_OWNER_DEAD) s->release_status = mp_rlock_release(&s->lock);
    return 0;
}

static int mpt_child(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[0], "recover") == 0)
        return container_recover(mpt_map_file(argv[1], sizeof(struct ns_shared), 0));
    if (argc != 2 || strcmp(argv[0], "hold") != 0) return 64;
    struct ns_shared *s = mpt_map_file(argv[1], sizeof *s, 0);
    s->holder_mode = mp_robust_mode();
    s->holder_pid = (int)getpid();
    if (mp_rlock_acquire(&s->lock, true, MP_FOREVER) != MP_OK) return 3;
    s->holds = 1;
    wait_flag_or_exit(&s->release_now, 30);
    s->release_status = mp_rlock_release(&s->lock);
    return 0;
}

/* Waits until `flag` is set, or the child `pid` exits first: returns its exit code
 * then (-1 while the flag came first). */
static int wait_flag_or_child(volatile int *flag, pid_t pid) {
    double t0 = mpt_now_ms();
    while (!*flag) {
        int st = 0;
        if (waitpid(pid, &st, WNOHANG) == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 200;
        CHECK(mpt_now_ms() - t0 < 20000);
        usleep(500);
    }
    return -1;
}

TEST(backstop_leaves_an_owner_in_another_pidns_with_its_own_proc_alone) {
    /* Setup (a): the owner runs in its own PID namespace with its own /proc (a container:
     * unshare -p -f --mount-proc) with robust mode off; the waiter is in our namespace.
     * The owner's ids mean nothing in our /proc: the waiter must keep waiting. */
    char name[64], exe[512];
    mpt_name(name, sizeof name, "nsa");
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK(n > 0);
    exe[n] = 0;
    struct ns_shared *s = mpt_map_file(name, sizeof *s, 1);
    CHECK_OK(mp_rlock_init(&s->lock));
    pid_t outer = fork();
    CHECK(outer >= 0);
    if (outer == 0) {
        if (unshare(CLONE_NEWPID | CLONE_NEWNS) != 0) _exit(77);
        pid_t inner = fork();
        if (inner == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) _exit(78);
            if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) _exit(78);
            setenv("MPSYNC_NO_ROBUST", "1", 1);
            char *argv[] = {exe, (char *)"--child", (char *)"hold", name, NULL};
            execv(exe, argv);
            _exit(127);
        }
        int st = 0;
        waitpid(inner, &st, 0);
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st));
    }
    int early = wait_flag_or_child(&s->holds, outer);
    if (early == 77 || early == 78) {
        fprintf(stderr, "SKIP: PID/mount namespaces unavailable (needs root): exit %d\n", early);
        mpt_unlink_file(name);
        return;
    }
    CHECK(early == -1);
    CHECK(s->holder_mode == MP_ROBUST_OFF);
    CHECK(s->holder_pid == 1);
    /* The waiter blocks through several back-stop rounds: the owner is alive. */
    CHECK_ST(mp_rlock_acquire(&s->lock, true, 1500), MP_TIMEOUT);
    s->release_now = 1;
    mpt_wait_ok(outer);
    CHECK_ST(s->release_status, MP_OK);
    CHECK_OK(mp_rlock_acquire(&s->lock, true, 2000));
    CHECK_OK(mp_rlock_release(&s->lock));
    mpt_unlink_file(name);
}

TEST(backstop_recovers_a_dead_owner_inside_a_container_with_its_own_proc) {
    /* The proofs hold inside a container: owner and waiter in one new PID namespace with
     * its own /proc, robust mode off: the back-stop still finds the dead owner. */
    char name[64], exe[512];
    mpt_name(name, sizeof name, "nsc");
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK(n > 0);
    exe[n] = 0;
    struct ns_shared *s = mpt_map_file(name, sizeof *s, 1);
    s->waiter_status = 999;
    pid_t outer = fork();
    CHECK(outer >= 0);
    if (outer == 0) {
        if (unshare(CLONE_NEWPID | CLONE_NEWNS) != 0) _exit(77);
        pid_t inner = fork();
        if (inner == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) _exit(78);
            if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) _exit(78);
            setenv("MPSYNC_NO_ROBUST", "1", 1);
            char *argv[] = {exe, (char *)"--child", (char *)"recover", name, NULL};
            execv(exe, argv);
            _exit(127);
        }
        int st = 0;
        waitpid(inner, &st, 0);
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st));
    }
    int st = 0;
    CHECK(waitpid(outer, &st, 0) == outer);
    CHECK(WIFEXITED(st));
    mpt_unlink_file(name);
    if (WEXITSTATUS(st) == 77 || WEXITSTATUS(st) == 78) {
        fprintf(stderr, "SKIP: PID/mount namespaces unavailable (needs root): exit %d\n", WEXITSTATUS(st));
        return;
    }
    CHECK(WEXITSTATUS(st) == 0);
    CHECK(s->holder_mode == MP_ROBUST_OFF);
    CHECK_ST(s->waiter_status, MP_OWNER_DEAD);
    CHECK_ST(s->release_status, MP_OK);
}

/* Inside the new namespace (as its PID 1): makes the next child get a PID that has no
 * entry in this (parent namespace's) /proc, so that "no /proc/<pid>" proves nothing. */
static int pick_pid_absent_from_proc(void) {
    FILE *f = fopen("/proc/sys/kernel/pid_max", "r");
    int max = 32768;
    if (f) { if (fscanf(f, "%d", &max) != 1) max = 32768; fclose(f); }
    for (int cand = max - 1000; cand > 300; cand -= 997) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d", cand);
        if (access(path, F_OK) == 0) continue;
        FILE *w = fopen("/proc/sys/kernel/ns_last_pid", "w");
        if (!w) return -1;
        fprintf(w, "%d", cand - 1);
        if (fclose(w) != 0) return -1;
        return cand;
    }
    return -1;
}

static void nsb_owner(struct ns_shared *s) {
    if (mp_rlock_init(&s->lock) != MP_OK) _exit(3);
    if (mp_rlock_acquire(&s->lock, true, MP_FOREVER) != MP_OK) _exit(4);
    s->holder_pid = (int)getpid();
    s->holds = 1;
    pid_t w = fork();
    if (w == 0) {
        mp_status st = mp_rlock_acquire(&s->lock, true, 1500);
        s->waiter_status = st;
        if (st == MP_OK || st == MP_OWNER_DEAD) mp_rlock_release(&s->lock);
        _exit(0);
    }
    waitpid(w, NULL, 0);
    s->release_status = mp_rlock_release(&s->lock);
    _exit(0);
}

TEST(backstop_in_a_new_pidns_with_the_parents_proc_concludes_nothing) {
    /* Setup (b): every participant in one new PID namespace whose /proc is the parent's
     * (unshare -p -f without --mount-proc). The owner's PID does not exist in that /proc,
     * which proves nothing: the waiter must time out, the owner's release succeed. */
    struct ns_shared *s = mpt_shared(sizeof *s);
    s->waiter_status = 999;
    pid_t outer = fork();
    CHECK(outer >= 0);
    if (outer == 0) {
        if (unshare(CLONE_NEWPID) != 0) _exit(77);
        pid_t init = fork();
        if (init == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (pick_pid_absent_from_proc() < 0) _exit(78);
            pid_t owner = fork();
            if (owner == 0) nsb_owner(s);
            int st = 0;
            waitpid(owner, &st, 0);
            _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st));
        }
        int st = 0;
        waitpid(init, &st, 0);
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st));
    }
    int st = 0;
    CHECK(waitpid(outer, &st, 0) == outer);
    CHECK(WIFEXITED(st));
    if (WEXITSTATUS(st) == 77 || WEXITSTATUS(st) == 78) {
        fprintf(stderr, "SKIP: PID namespaces or ns_last_pid unavailable (needs root): exit %d\n",
                WEXITSTATUS(st));
        return;
    }
    CHECK(WEXITSTATUS(st) == 0);
    char p[64];
    snprintf(p, sizeof p, "/proc/%d", s->holder_pid);
    fprintf(stderr, "owner was PID %d of the new namespace (%s in this /proc)\n", s->holder_pid,
            access(p, F_OK) == 0 ? "present" : "absent");
    CHECK_ST(s->waiter_status, MP_TIMEOUT);
    CHECK_ST(s->release_status, MP_OK);
}

TEST(backstop_still_recovers_a_dead_owner_in_our_own_namespace) {
    /* The proofs hold in the ordinary arrangement: with robust mode off everywhere, a
     * killed owner is still found by the back-stop. */
    setenv("MPSYNC_NO_ROBUST", "1", 1);
    struct ns_shared *s = mpt_shared(sizeof *s);
    CHECK_OK(mp_rlock_init(&s->lock));
    pid_t pid = mpt_fork_rlock_holder(&s->lock, &s->holds);
    wait_flag_or_exit(&s->holds, 10);
    mpt_kill_and_reap(pid);
    CHECK_ST(mp_rlock_acquire(&s->lock, true, 10000), MP_OWNER_DEAD);
    CHECK_OK(mp_rlock_release(&s->lock));
}

/* ---- peers that scribble on a held lock ------------------------------------------- */

struct scribble_shared {
    mp_rlock_t lock;
    mp_rlock_t other;
    volatile int holds;
    volatile int scribbled;
    volatile int release_status;
    volatile int verdict; /* 1: private memory intact */
    pthread_mutex_t m;
};

/* The owner's private memory that a peer tries to make the owner write into. Same
 * address in a fork()ed peer. */
static volatile uintptr_t private_words[8];

static void scribble(mp_rlock_t *l, uint64_t value) {
    /* Everything after the word, the count and the owner token: the robust-list slots
     * (+32 and +40 in the layouts so far), the back-stop record and the flags. */
    volatile uint64_t *w = (volatile uint64_t *)l;
    for (int i = 3; i < 8; i++) w[i] = value;
}

static int scribble_owner(void *arg) {
    struct scribble_shared *s = arg;
    for (int i = 0; i < 8; i++) private_words[i] = 0x1111;
    if (mp_rlock_acquire(&s->other, true, MP_FOREVER) != MP_OK) return 2;
    if (mp_rlock_acquire(&s->lock, true, MP_FOREVER) != MP_OK) return 3;
    s->holds = 1;
    while (!s->scribbled) usleep(200);
    s->release_status = mp_rlock_release(&s->lock);
    int intact = 1;
    for (int i = 0; i < 8; i++) intact &= private_words[i] == 0x1111;
    s->verdict = intact;
    /* The thread's list still works: more locks come and go, then it dies holding one. */
    if (mp_rlock_release(&s->other) != MP_OK) return 4;
    for (int i = 0; i < 100; i++) {
        if (mp_rlock_acquire(&s->other, true, MP_FOREVER) != MP_OK) return 5;
        if (mp_rlock_release(&s->other) != MP_OK) return 6;
    }
    if (mp_rlock_acquire(&s->other, true, MP_FOREVER) != MP_OK) return 7;
    s->holds = 2;
    for (;;) pause();
}

static void run_scribble(uint64_t (*value)(void)) {
    struct scribble_shared *s = mpt_shared(sizeof *s);
    CHECK_OK(mp_rlock_init(&s->lock));
    CHECK_OK(mp_rlock_init(&s->other));
    pid_t owner = mpt_fork(scribble_owner, s);
    wait_flag_or_exit(&s->holds, 10);
    scribble(&s->lock, value());
    s->scribbled = 1;
    double t0 = mpt_now_ms();
    while (s->holds != 2) {
        int st = 0;
        if (waitpid(owner, &st, WNOHANG) == owner) {
            fprintf(stderr, "owner ended: %s %d (release returned %d)\n", WIFSIGNALED(st) ? "signal" : "exit",
                    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), s->release_status);
            CHECK(0);
        }
        CHECK(mpt_now_ms() - t0 < 10000);
        usleep(200);
    }
    CHECK_ST(s->release_status, MP_OK);
    CHECK(s->verdict == 1);
    mpt_kill_and_reap(owner);
    /* Its robust list was intact to the end: the kernel reports the death at once. */
    CHECK_ST(mp_rlock_acquire(&s->other, true, 5000), MP_OWNER_DEAD);
    CHECK_OK(mp_rlock_release(&s->other));
}

static uint64_t pointer_into_private_memory(void) { return (uint64_t)(uintptr_t)&private_words[2]; }
static uint64_t garbage(void) { return 0xdead0000beef0008ULL; }
static uint64_t unmapped_but_canonical(void) { return 0x10000ULL; }

TEST(peer_pointing_a_held_lock_at_private_memory_cannot_make_the_owner_write_there) {
    run_scribble(pointer_into_private_memory);
}

TEST(peer_writing_garbage_into_a_held_lock_cannot_crash_the_owner) {
    run_scribble(garbage);
    run_scribble(unmapped_but_canonical);
}

/* ---- closing or destroying a lock the caller holds --------------------------------- */

/* A peer rewrites the owner token (+16) of a lock we hold: "is it mine?" falls back to
 * the thread's private book, so the owner still re-enters, releases and closes it
 * (before: re-entry waited for itself, release said MP_ENOTOWNER, close said MP_EBUSY
 * for ever, and an array copy under the lock returned the undocumented MP_ENOTOWNER). */
static void scribble_token_in_child(void *lock) {
    pid_t kid = fork();
    CHECK(kid >= 0);
    if (kid == 0) {
        *(volatile uint64_t *)((char *)lock + 16) = 0x5eed5eed5eed5eedull;
        _exit(0);
    }
    int st = 0;
    CHECK(waitpid(kid, &st, 0) == kid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

TEST(peer_rewriting_the_owner_token_cannot_disown_the_owner) {
    mp_rlock_t *l;
    CHECK_OK(mp_rlock_new(&l));
    CHECK_OK(mp_rlock_acquire(l, true, MP_FOREVER));
    scribble_token_in_child(l);
    CHECK_ST(mp_rlock_acquire(l, true, 0), MP_OK); /* re-entry, not a wait for ourselves */
    CHECK_OK(mp_rlock_release(l));
    CHECK_OK(mp_rlock_release(l));
    CHECK_ST(mp_rlock_release(l), MP_ENOTOWNER);
    CHECK_OK(mp_rlock_close(l)); /* the thread's list no longer holds it */

    mp_array_t *a;
    CHECK_OK(mp_array_new(MP_TYPE_INT, 4, true, &a));
    mp_rlock_t *al = mp_array_get_lock(a);
    CHECK_OK(mp_rlock_acquire(al, true, MP_FOREVER));
    scribble_token_in_child(al);
    int buf[4] = {1, 2, 3, 4};
    CHECK_OK(mp_array_write(a, 0, 4, buf)); /* re-enters the held lock */
    CHECK_OK(mp_array_read(a, 0, 4, buf));
    CHECK_OK(mp_rlock_release(al));
    CHECK_OK(mp_array_close(a));
}

TEST(close_of_a_held_rlock_is_busy_and_changes_nothing) {
    mp_rlock_t *l, *l2;
    CHECK_OK(mp_rlock_new(&l));
    CHECK_OK(mp_rlock_new(&l2));
    CHECK_OK(mp_rlock_acquire(l, true, MP_FOREVER));
    CHECK_ST(mp_rlock_close(l), MP_EBUSY);
    /* Still mapped, still ours, still linked: the thread's other locks work. */
    CHECK_OK(mp_rlock_acquire(l, true, 0));
    uint32_t n = 0;
    CHECK_OK(mp_rlock_count(l, &n));
    CHECK(n == 2);
    CHECK_OK(mp_rlock_acquire(l2, true, 0));
    CHECK_OK(mp_rlock_release(l2));
    CHECK_OK(mp_rlock_release(l));
    CHECK_ST(mp_rlock_close(l), MP_EBUSY);
    CHECK_OK(mp_rlock_release(l));
    CHECK_OK(mp_rlock_close(l));
    CHECK_OK(mp_rlock_acquire(l2, true, 0));
    CHECK_OK(mp_rlock_release(l2));
    CHECK_OK(mp_rlock_close(l2));
}

TEST(destroy_of_a_held_rlock_is_busy_even_if_a_peer_cleared_its_word) {
    struct scribble_shared *s = mpt_shared(sizeof *s);
    CHECK_OK(mp_rlock_init(&s->lock));
    CHECK_OK(mp_rlock_acquire(&s->lock, true, MP_FOREVER));
    CHECK_ST(mp_rlock_destroy(&s->lock), MP_EBUSY);
    /* A peer makes the lock look free. */
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        ((volatile uint32_t *)&s->lock)[2] = 0;
        _exit(0);
    }
    mpt_wait_ok(pid);
    CHECK_ST(mp_rlock_destroy(&s->lock), MP_EBUSY);
    CHECK_OK(mp_rlock_release(&s->lock));
    CHECK_OK(mp_rlock_destroy(&s->lock));
}

TEST(close_of_an_array_whose_lock_is_held_is_busy) {
    mp_array_t *a;
    CHECK_OK(mp_array_new(MP_TYPE_INT, 4, true, &a));
    mp_rlock_t *lk = mp_array_get_lock(a);
    CHECK_OK(mp_rlock_acquire(lk, true, MP_FOREVER));
    CHECK_ST(mp_array_close(a), MP_EBUSY);
    int v = 7, got = 0;
    CHECK_OK(mp_array_set(a, 1, &v));
    CHECK_OK(mp_array_get(a, 1, &got));
    CHECK(got == 7);
    CHECK_OK(mp_rlock_release(lk));
    CHECK_OK(mp_array_close(a));
}

TEST(close_of_a_shm_block_holding_a_held_rlock_is_busy) {
    mp_shm_t *shm;
    CHECK_OK(mp_shm_open(NULL, MP_CREATE | MP_EXCL, 4096, 0, &shm));
    mp_rlock_t *l = (mp_rlock_t *)((char *)mp_shm_data(shm) + 128);
    CHECK_OK(mp_rlock_init(l));
    CHECK_OK(mp_rlock_acquire(l, true, MP_FOREVER));
    CHECK_ST(mp_shm_close(shm), MP_EBUSY);
    CHECK_OK(mp_rlock_release(l));
    CHECK_OK(mp_rlock_destroy(l));
    CHECK_OK(mp_unlink(mp_shm_name(shm)));
    CHECK_OK(mp_shm_close(shm));
}

static int hold_glibc_mutex_then_try_to_close(void *arg) {
    struct scribble_shared *s = arg;
    if (pthread_mutex_lock(&s->m) != 0) return 2;
    mp_rlock_t *l;
    if (mp_rlock_new(&l) != MP_OK) return 3;
    if (mp_rlock_acquire(l, true, MP_FOREVER) != MP_OK) return 4;
    s->release_status = mp_rlock_close(l);
    s->holds = 1;
    for (;;) pause();
}

static int close_then_use_another_lock(void *arg) {
    struct scribble_shared *s = arg;
    mp_rlock_t *l, *l2;
    if (mp_rlock_new(&l2) != MP_OK) return 2;
    if (mp_rlock_new(&l) != MP_OK) return 3;
    if (mp_rlock_acquire(l, true, MP_FOREVER) != MP_OK) return 4;
    s->release_status = mp_rlock_close(l);
    /* Whatever close said, this thread's next robust-list operations must work. */
    if (mp_rlock_acquire(l2, true, MP_FOREVER) != MP_OK) return 5;
    if (mp_rlock_release(l2) != MP_OK) return 6;
    return 0;
}

TEST(the_thread_keeps_working_after_a_refused_close) {
    struct scribble_shared *s = mpt_shared(sizeof *s);
    pid_t pid = mpt_fork(close_then_use_another_lock, s);
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fprintf(stderr, "child ended: %s %d (close returned %d)\n", WIFSIGNALED(st) ? "signal" : "exit",
                WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), s->release_status);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_ST(s->release_status, MP_EBUSY);
}

TEST(a_refused_close_keeps_glibc_robust_mutexes_recoverable) {
    /* A held, closed (unmapped) RLock would stop the kernel's list walk at the owner's
     * death before glibc's older robust mutex: its waiter would never get EOWNERDEAD. */
    struct scribble_shared *s = mpt_shared(sizeof *s);
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    CHECK(pthread_mutex_init(&s->m, &a) == 0);
    pid_t pid = mpt_fork(hold_glibc_mutex_then_try_to_close, s);
    double t0 = mpt_now_ms();
    while (!s->holds) {
        int st = 0;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            fprintf(stderr, "holder ended: %s %d (close returned %d)\n", WIFSIGNALED(st) ? "signal" : "exit",
                    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), s->release_status);
            CHECK(0);
        }
        CHECK(mpt_now_ms() - t0 < 10000);
        usleep(200);
    }
    mpt_kill_and_reap(pid);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 3;
    int r = pthread_mutex_timedlock(&s->m, &ts);
    if (r != EOWNERDEAD) fprintf(stderr, "pthread_mutex_timedlock: %s\n", strerror(r));
    CHECK(r == EOWNERDEAD);
    CHECK(pthread_mutex_consistent(&s->m) == 0);
    CHECK(pthread_mutex_unlock(&s->m) == 0);
    CHECK_ST(s->release_status, MP_EBUSY);
}

/* ---- thread exit: the book's anchors leave glibc's list intact -------------------- */

struct exit_shared {
    pthread_mutex_t m;
    mp_rlock_t lock;
    volatile int step;
};

static void *use_then_exit_holding_glibc_mutex(void *arg) {
    struct exit_shared *s = arg;
    if (pthread_mutex_lock(&s->m) != 0) return (void *)1;
    for (int i = 0; i < 10; i++) {
        if (mp_rlock_acquire(&s->lock, true, MP_FOREVER) != MP_OK) return (void *)2;
        if (mp_rlock_release(&s->lock) != MP_OK) return (void *)3;
    }
    return NULL; /* exits holding the glibc robust mutex, not the RLock */
}

static void *use_rlock_then_exit(void *arg) {
    struct exit_shared *s = arg;
    if (mp_rlock_acquire(&s->lock, true, MP_FOREVER) != MP_OK) return (void *)2;
    if (mp_rlock_release(&s->lock) != MP_OK) return (void *)3;
    return NULL;
}

TEST(threads_that_used_rlocks_exit_cleanly_and_glibc_still_reports_their_mutexes) {
    struct exit_shared *s = mpt_shared(sizeof *s);
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    CHECK(pthread_mutex_init(&s->m, &a) == 0);
    CHECK_OK(mp_rlock_init(&s->lock));
    /* Many short-lived threads: each one's book is unlinked and freed at exit. */
    for (int i = 0; i < 200; i++) {
        pthread_t t;
        void *ret = (void *)9;
        CHECK(pthread_create(&t, NULL, use_rlock_then_exit, s) == 0);
        CHECK(pthread_join(t, &ret) == 0 && ret == NULL);
    }
    /* A thread that exits holding a glibc robust mutex after using RLocks: unlinking
     * our anchors at its exit must keep glibc's node for the kernel's walk. */
    pthread_t t;
    void *ret = (void *)9;
    CHECK(pthread_create(&t, NULL, use_then_exit_holding_glibc_mutex, s) == 0);
    CHECK(pthread_join(t, &ret) == 0 && ret == NULL);
    CHECK(pthread_mutex_lock(&s->m) == EOWNERDEAD);
    CHECK(pthread_mutex_consistent(&s->m) == 0);
    CHECK(pthread_mutex_unlock(&s->m) == 0);
    CHECK_OK(mp_rlock_acquire(&s->lock, true, 0));
    CHECK_OK(mp_rlock_release(&s->lock));
}

/* ---- one lock, two mappings in one process ------------------------------------------ */

static int acquire_through_one_mapping_release_through_another(void *arg) {
    struct scribble_shared *s = arg;
    char name[64];
    snprintf(name, sizeof name, "/mpt-%d-alias", (int)getppid());
    mp_rlock_t *a, *c;
    if (mp_rlock_open(name, MP_CREATE, 0, &a) != MP_OK) return 2;
    if (mp_rlock_open(name, 0, 0, &c) != MP_OK) return 3;
    if (a == c) return 4;
    for (int i = 0; i < 3; i++) {
        if (mp_rlock_acquire(a, true, MP_FOREVER) != MP_OK) return 5;
        if (mp_rlock_release(c) != MP_OK) return 6; /* same lock, other address */
    }
    /* Nothing is held any more: both mappings close. */
    if (mp_rlock_close(a) != MP_OK) return 7;
    if (mp_rlock_close(c) != MP_OK) return 8;
    /* The thread's list is intact: a death holding another lock is reported. */
    if (mp_rlock_acquire(&s->other, true, MP_FOREVER) != MP_OK) return 9;
    s->holds = 1;
    for (;;) pause();
}

TEST(a_lock_released_through_another_mapping_leaves_the_book_clean) {
    struct scribble_shared *s = mpt_shared(sizeof *s);
    CHECK_OK(mp_rlock_init(&s->other));
    char name[64];
    snprintf(name, sizeof name, "/mpt-%d-alias", (int)getpid());
    pid_t pid = mpt_fork(acquire_through_one_mapping_release_through_another, s);
    double t0 = mpt_now_ms();
    while (!s->holds) {
        int st = 0;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            fprintf(stderr, "child ended: %s %d\n", WIFSIGNALED(st) ? "signal" : "exit",
                    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
            CHECK(0);
        }
        CHECK(mpt_now_ms() - t0 < 10000);
        usleep(200);
    }
    mpt_kill_and_reap(pid);
    CHECK_ST(mp_rlock_acquire(&s->other, true, 10000), MP_OWNER_DEAD);
    CHECK_OK(mp_rlock_release(&s->other));
    CHECK_OK(mp_unlink(name));
}
