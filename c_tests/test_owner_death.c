/* Owner death: a process or thread that dies holding an RLock never deadlocks the others. */
#include "mpt_util.h"
#include "kill_loop.h"
#include <pthread.h>
#include <sys/prctl.h>

struct shared {
    mp_rlock_t lock;
    mp_rlock_t many[100];
    volatile int ready;
    volatile int results[8];
    volatile int done;
    pthread_mutex_t m1, m2;
    mp_rlock_t l1, l2;
};

static struct shared *new_shared(void) {
    struct shared *s = mpt_shared(sizeof *s);
    CHECK_OK(mp_rlock_init(&s->lock));
    return s;
}

static void wait_flag(volatile int *flag) {
    double t0 = mpt_now_ms();
    while (!*flag) {
        CHECK(mpt_now_ms() - t0 < 10000);
        usleep(100);
    }
}

/* A child that takes `lock`, raises `ready`, and sleeps until killed. */
static pid_t spawn_holder(struct shared *s) {
    s->ready = 0;
    pid_t pid = mpt_fork_rlock_holder(&s->lock, &s->ready);
    wait_flag(&s->ready);
    return pid;
}

TEST(robust_mode_is_glibc_in_main_thread) {
    CHECK(mp_robust_mode() == MP_ROBUST_GLIBC);
}

static void *thread_mode(void *arg) {
    *(int *)arg = mp_robust_mode();
    return NULL;
}

TEST(robust_mode_in_pthread) {
    int mode = -1;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, thread_mode, &mode) == 0);
    pthread_join(t, NULL);
    CHECK(mode == MP_ROBUST_GLIBC);
}

TEST(killed_holder_with_three_waiters_exactly_one_owner_dead) {
    struct shared *s = new_shared();
    pid_t holder = spawn_holder(s);
    pid_t waiters[3];
    for (int i = 0; i < 3; i++) {
        waiters[i] = fork();
        CHECK(waiters[i] >= 0);
        if (waiters[i] == 0) {
            __atomic_fetch_add(&s->done, 1, __ATOMIC_SEQ_CST);
            mp_status st = mp_rlock_acquire(&s->lock, true, 20000);
            s->results[i] = st == MP_OWNER_DEAD ? 2 : st == MP_OK ? 1 : 100 + st;
            usleep(1000);
            _exit(mp_rlock_release(&s->lock) == MP_OK ? 0 : 4);
        }
    }
    while (__atomic_load_n(&s->done, __ATOMIC_SEQ_CST) < 3) usleep(100);
    usleep(50000); /* let them block */
    double t0 = mpt_now_ms();
    mpt_kill_and_reap(holder);
    for (int i = 0; i < 3; i++) mpt_wait_ok(waiters[i]);
    double ms = mpt_now_ms() - t0;
    int dead = 0, ok = 0;
    for (int i = 0; i < 3; i++) {
        if (s->results[i] == 2) dead++;
        else if (s->results[i] == 1) ok++;
        else { fprintf(stderr, "waiter %d: %d\n", i, s->results[i]); CHECK(0); }
    }
    CHECK(dead == 1 && ok == 2);
    fprintf(stderr, "all three waiters done %.1f ms after the kill\n", ms);
    CHECK_OK(mp_rlock_acquire(&s->lock, false, 0));
    CHECK_OK(mp_rlock_release(&s->lock));
}

TEST(killed_holder_without_waiters_next_acquirer_gets_owner_dead) {
    struct shared *s = new_shared();
    mpt_kill_and_reap(spawn_holder(s));
    CHECK_ST(mp_rlock_acquire(&s->lock, true, 5000), MP_OWNER_DEAD);
    uint32_t n = 0;
    CHECK_OK(mp_rlock_count(&s->lock, &n));
    CHECK(n == 1);
    CHECK_OK(mp_rlock_acquire(&s->lock, true, 0)); /* recursion works */
    CHECK_OK(mp_rlock_release(&s->lock));
    CHECK_OK(mp_rlock_release(&s->lock));
    /* Fully usable again, no poisoning. */
    CHECK_OK(mp_rlock_acquire(&s->lock, false, 0));
    CHECK_OK(mp_rlock_release(&s->lock));
    CHECK_OK(mp_rlock_destroy(&s->lock));
}

static bool rlock_locked(mp_rlock_t *l) {
    bool locked = false;
    CHECK_OK(mp_rlock_is_locked(l, &locked));
    return locked;
}

/* mp_rlock_is_locked only reads: held by this thread or by a live child it says so; once
 * that child is SIGKILLed, however often it is asked, the next acquirer still gets the
 * MP_OWNER_DEAD report (a trial acquire, as a repr might do, would have taken it). */
TEST(is_locked_reads_without_taking_the_owner_death_report) {
    struct shared *s = new_shared();
    CHECK(!rlock_locked(&s->lock));
    CHECK_OK(mp_rlock_acquire(&s->lock, true, 0));
    CHECK(rlock_locked(&s->lock));
    CHECK_OK(mp_rlock_release(&s->lock));
    CHECK(!rlock_locked(&s->lock));

    pid_t holder = spawn_holder(s);
    CHECK(rlock_locked(&s->lock));
    mpt_kill_and_reap(holder);
    for (int i = 0; i < 100; i++) (void)rlock_locked(&s->lock);
    CHECK_ST(mp_rlock_acquire(&s->lock, true, 5000), MP_OWNER_DEAD);
    CHECK(rlock_locked(&s->lock));
    CHECK_OK(mp_rlock_release(&s->lock));
    CHECK(!rlock_locked(&s->lock));

    bool b = true;
    mp_rlock_t *zero = mpt_shared(sizeof *zero);
    CHECK_ST(mp_rlock_is_locked(NULL, &b), MP_EINVAL);
    CHECK_ST(mp_rlock_is_locked(&s->lock, NULL), MP_EINVAL);
    CHECK_ST(mp_rlock_is_locked(zero, NULL), MP_EINVAL);
    CHECK_ST(mp_rlock_is_locked(zero, &b), MP_EBADOBJ);
    CHECK_ST(mp_rlock_is_locked((mp_rlock_t *)((char *)&s->lock + 4), &b), MP_EBADOBJ);
    CHECK(b);
    CHECK_OK(mp_rlock_destroy(&s->lock));
    CHECK_ST(mp_rlock_is_locked(&s->lock, &b), MP_EBADOBJ);
}

static void *hold_and_exit(void *arg) {
    struct shared *s = arg;
    return (void *)(intptr_t)mp_rlock_acquire(&s->lock, true, MP_FOREVER);
}

TEST(holder_thread_exits_process_lives) {
    struct shared *s = new_shared();
    pthread_t t;
    void *ret;
    CHECK(pthread_create(&t, NULL, hold_and_exit, s) == 0);
    CHECK(pthread_join(t, &ret) == 0);
    CHECK((intptr_t)ret == MP_OK);
    CHECK_ST(mp_rlock_acquire(&s->lock, true, 5000), MP_OWNER_DEAD);
    CHECK_OK(mp_rlock_release(&s->lock));
}

TEST(holder_execs) {
    struct shared *s = new_shared();
    s->ready = 0;
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        if (mp_rlock_acquire(&s->lock, true, MP_FOREVER) != MP_OK) _exit(3);
        s->ready = 1;
        execl("/bin/sleep", "sleep", "30", (char *)NULL);
        _exit(127);
    }
    wait_flag(&s->ready);
    /* The kernel releases robust locks at exec; the sleeping image lives on. */
    CHECK_ST(mp_rlock_acquire(&s->lock, true, 5000), MP_OWNER_DEAD);
    CHECK_OK(mp_rlock_release(&s->lock));
    mpt_kill_and_reap(pid);
}

static void *exec_from_thread(void *arg) {
    struct shared *s = arg;
    if (mp_rlock_acquire(&s->lock, true, MP_FOREVER) != MP_OK) _exit(3);
    s->ready = 1;
    execl("/bin/sleep", "sleep", "30", (char *)NULL);
    _exit(127);
}

TEST(holder_execs_from_non_leader_thread_backstop) {
    /* The kernel misses this case (the thread takes over the leader's PID before the
     * robust list is walked); the liveness back-stop must recover it. */
    struct shared *s = new_shared();
    s->ready = 0;
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        pthread_t t;
        pthread_create(&t, NULL, exec_from_thread, s);
        for (;;) pause();
    }
    wait_flag(&s->ready);
    double t0 = mpt_now_ms();
    CHECK_ST(mp_rlock_acquire(&s->lock, true, 10000), MP_OWNER_DEAD);
    fprintf(stderr, "back-stop recovered the lock %.0f ms after the exec\n", mpt_now_ms() - t0);
    CHECK_OK(mp_rlock_release(&s->lock));
    mpt_kill_and_reap(pid);
}

TEST(holder_of_100_locks_killed_all_recovered) {
    struct shared *s = new_shared();
    for (int i = 0; i < 100; i++) CHECK_OK(mp_rlock_init(&s->many[i]));
    s->ready = 0;
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        for (int i = 0; i < 100; i++)
            if (mp_rlock_acquire(&s->many[i], true, MP_FOREVER) != MP_OK) _exit(3);
        /* Release a few in the middle and re-take them: list removals in the middle. */
        for (int i = 10; i < 90; i += 7) {
            if (mp_rlock_release(&s->many[i]) != MP_OK) _exit(4);
            if (mp_rlock_acquire(&s->many[i], true, MP_FOREVER) != MP_OK) _exit(5);
        }
        s->ready = 1;
        for (;;) pause();
    }
    wait_flag(&s->ready);
    mpt_kill_and_reap(pid);
    for (int i = 0; i < 100; i++) {
        CHECK_ST(mp_rlock_acquire(&s->many[i], true, 5000), MP_OWNER_DEAD);
        CHECK_OK(mp_rlock_release(&s->many[i]));
    }
}

static void robust_pthread_mutex(pthread_mutex_t *m) {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    CHECK(pthread_mutex_init(m, &a) == 0);
}

TEST(interleaved_with_glibc_robust_mutexes_both_recovered) {
    struct shared *s = new_shared();
    robust_pthread_mutex(&s->m1);
    robust_pthread_mutex(&s->m2);
    CHECK_OK(mp_rlock_init(&s->l1));
    CHECK_OK(mp_rlock_init(&s->l2));
    s->ready = 0;
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        if (pthread_mutex_lock(&s->m1)) _exit(3);
        if (mp_rlock_acquire(&s->l1, true, MP_FOREVER)) _exit(3);
        if (pthread_mutex_lock(&s->m2)) _exit(3);
        if (mp_rlock_acquire(&s->l2, true, MP_FOREVER)) _exit(3);
        /* Middle removals of both kinds, then re-insertions. */
        if (pthread_mutex_unlock(&s->m1)) _exit(4);
        if (mp_rlock_release(&s->l1)) _exit(4);
        if (pthread_mutex_lock(&s->m1)) _exit(5);
        if (mp_rlock_acquire(&s->l1, true, MP_FOREVER)) _exit(5);
        s->ready = 1;
        for (;;) pause();
    }
    wait_flag(&s->ready);
    mpt_kill_and_reap(pid);
    CHECK(pthread_mutex_lock(&s->m1) == EOWNERDEAD);
    CHECK(pthread_mutex_consistent(&s->m1) == 0);
    CHECK(pthread_mutex_lock(&s->m2) == EOWNERDEAD);
    CHECK(pthread_mutex_consistent(&s->m2) == 0);
    CHECK_ST(mp_rlock_acquire(&s->l1, true, 5000), MP_OWNER_DEAD);
    CHECK_ST(mp_rlock_acquire(&s->l2, true, 5000), MP_OWNER_DEAD);
    /* glibc's own robust mutexes keep working alongside ours in this thread. */
    for (int i = 0; i < 1000; i++) {
        CHECK(pthread_mutex_unlock(&s->m1) == 0);
        CHECK_OK(mp_rlock_release(&s->l1));
        CHECK(pthread_mutex_lock(&s->m1) == 0);
        CHECK_OK(mp_rlock_acquire(&s->l1, false, 0));
    }
    CHECK(pthread_mutex_unlock(&s->m1) == 0);
    CHECK(pthread_mutex_unlock(&s->m2) == 0);
    CHECK_OK(mp_rlock_release(&s->l1));
    CHECK_OK(mp_rlock_release(&s->l2));
    /* And a second kill cycle, in the opposite order, still recovers both kinds. */
    s->ready = 0;
    pid = fork();
    if (pid == 0) {
        if (mp_rlock_acquire(&s->l2, true, MP_FOREVER)) _exit(3);
        if (pthread_mutex_lock(&s->m2)) _exit(3);
        s->ready = 1;
        for (;;) pause();
    }
    wait_flag(&s->ready);
    mpt_kill_and_reap(pid);
    CHECK(pthread_mutex_lock(&s->m2) == EOWNERDEAD);
    CHECK_ST(mp_rlock_acquire(&s->l2, true, 5000), MP_OWNER_DEAD);
}

TEST(fallback_without_robust_list_recovers_by_backstop) {
    setenv("MPSYNC_NO_ROBUST", "1", 1);
    CHECK(mp_robust_mode() == MP_ROBUST_OFF);
    struct shared *s = new_shared();
    pid_t holder = spawn_holder(s);
    mpt_kill_and_reap(holder);
    double t0 = mpt_now_ms();
    CHECK_ST(mp_rlock_acquire(&s->lock, true, 10000), MP_OWNER_DEAD);
    fprintf(stderr, "fallback mode: recovered %.0f ms after the kill\n", mpt_now_ms() - t0);
    CHECK_OK(mp_rlock_release(&s->lock));
    /* A live owner is never taken over, however long we wait. */
    pid_t live = spawn_holder(s);
    CHECK_ST(mp_rlock_acquire(&s->lock, true, 1200), MP_TIMEOUT);
    mpt_kill_and_reap(live);
}

TEST(fallback_recovers_from_an_unreaped_holder) {
    /* The waiter is the holder's parent, blocked in acquire, so nobody reaps the killed
     * holder: it stays a zombie with its /proc entry. The back-stop must still see that
     * the owner thread has exited. */
    setenv("MPSYNC_NO_ROBUST", "1", 1);
    CHECK(mp_robust_mode() == MP_ROBUST_OFF);
    struct shared *s = new_shared();
    pid_t holder = spawn_holder(s);
    CHECK(kill(holder, SIGKILL) == 0);
    double t0 = mpt_now_ms();
    CHECK_ST(mp_rlock_acquire(&s->lock, true, 10000), MP_OWNER_DEAD);
    fprintf(stderr, "fallback mode, zombie holder: recovered %.0f ms after the kill\n", mpt_now_ms() - t0);
    CHECK_OK(mp_rlock_release(&s->lock));
    CHECK(waitpid(holder, NULL, 0) == holder);
}

TEST(kill_loop_2000) {
    struct kl_result r = kl_run(2000, 2, (unsigned)getpid());
    fprintf(stderr, "kills %ld: holding %ld, idle %ld, inside acquire/release %ld\n", r.kills, r.killed_holding,
            r.killed_idle, r.killed_ambiguous);
    if (r.failures) fprintf(stderr, "%s\n", r.failure);
    CHECK(r.failures == 0);
    CHECK(r.kills == 2000);
    CHECK(r.killed_holding > 0 && r.killed_idle > 0);
}


TEST(kill_loop_fallback_mode_50) {
    /* The same oracle with robust mode off: every recovery comes from the back-stop. */
    setenv("MPSYNC_NO_ROBUST", "1", 1);
    struct kl_result r = kl_run(50, 2, (unsigned)getpid() + 7);
    fprintf(stderr, "fallback kills %ld: holding %ld, idle %ld, inside acquire/release %ld\n", r.kills,
            r.killed_holding, r.killed_idle, r.killed_ambiguous);
    if (r.failures) fprintf(stderr, "%s\n", r.failure);
    CHECK(r.failures == 0);
    CHECK(r.kills == 50);
}

/* ---- PID namespaces ------------------------------------------------------------- */

#include <sched.h>

struct ns_shared {
    mp_rlock_t lock;
    volatile uint64_t counter;
    volatile int inside_seen_twice;
    volatile int started;
    volatile int a_holds;
    volatile int b_waiting;
    volatile int c_result;
    volatile int release_now;
};

/* Forks a child that enters a new PID namespace and forks `fn` there as its PID 1.
 * Returns the outer child's pid; the outer child exits with the inner one's status.
 * Returns -1 if PID namespaces are not available (not root, or forbidden). */
static pid_t fork_in_new_pidns(void (*fn)(struct ns_shared *), struct ns_shared *s) {
    int pipefd[2];
    pid_t outer = mpt_fork_with_pipe(pipefd);
    if (outer == 0) {
        close(pipefd[0]);
        char ok = unshare(CLONE_NEWPID) == 0 ? 1 : 0;
        if (!ok) { (void)!write(pipefd[1], &ok, 1); _exit(0); }
        pid_t inner = fork();
        if (inner == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL); /* killing the outer child kills us */
            ok = getpid() == 1;
            (void)!write(pipefd[1], &ok, 1);
            close(pipefd[1]);
            fn(s);
            _exit(0);
        }
        close(pipefd[1]);
        int st = 0;
        waitpid(inner, &st, 0);
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st));
    }
    close(pipefd[1]);
    char ok = 0;
    if (read(pipefd[0], &ok, 1) != 1 || !ok) {
        close(pipefd[0]);
        waitpid(outer, NULL, 0);
        return -1;
    }
    close(pipefd[0]);
    return outer;
}

static void ns_counter_worker(struct ns_shared *s) {
    __atomic_fetch_add(&s->started, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&s->started, __ATOMIC_SEQ_CST) < 2) usleep(100);
    for (int i = 0; i < 100000; i++) {
        if (mp_rlock_acquire(&s->lock, true, 20000) != MP_OK) _exit(3);
        if (mp_rlock_acquire(&s->lock, true, 0) != MP_OK) _exit(4); /* recursion */
        uint64_t c = s->counter;
        s->counter = c + 1;
        if (mp_rlock_release(&s->lock) != MP_OK) _exit(5);
        if (mp_rlock_release(&s->lock) != MP_OK) _exit(6);
    }
}

TEST(two_pid1_processes_in_sibling_namespaces_never_both_own) {
    struct ns_shared *s = mpt_shared(sizeof *s);
    CHECK_OK(mp_rlock_init(&s->lock));
    pid_t a = fork_in_new_pidns(ns_counter_worker, s);
    if (a < 0) { fprintf(stderr, "SKIP: PID namespaces unavailable (needs root)\n"); return; }
    pid_t b = fork_in_new_pidns(ns_counter_worker, s);
    CHECK(b > 0);
    mpt_wait_ok(a);
    mpt_wait_ok(b);
    /* Both were PID 1 (same TID in the word): TID-based ownership would have let both
     * in at once. Tokens keep them apart. */
    CHECK(s->counter == 200000);
}

static void ns_holder(struct ns_shared *s) {
    if (mp_rlock_acquire(&s->lock, true, MP_FOREVER) != MP_OK) _exit(3);
    s->a_holds = 1;
    while (!s->release_now) usleep(1000);
    if (mp_rlock_release(&s->lock) != MP_OK) _exit(4);
}

static void ns_waiter(struct ns_shared *s) {
    s->b_waiting = 1;
    mp_rlock_acquire(&s->lock, true, MP_FOREVER); /* killed while waiting */
    _exit(9);
}

static void ns_hold_forever(struct ns_shared *s) {
    if (mp_rlock_acquire(&s->lock, true, MP_FOREVER) != MP_OK) _exit(3);
    s->a_holds = 1;
    for (;;) pause();
}

TEST(holder_in_another_pid_namespace_killed_is_recovered) {
    /* The owner (PID 1 of its own namespace) still links the lock into its robust list;
     * the kernel reports its death to a waiter in the root namespace. */
    struct ns_shared *s = mpt_shared(sizeof *s);
    CHECK_OK(mp_rlock_init(&s->lock));
    pid_t a = fork_in_new_pidns(ns_hold_forever, s);
    if (a < 0) { fprintf(stderr, "SKIP: PID namespaces unavailable (needs root)\n"); return; }
    wait_flag(&s->a_holds);
    pid_t waiter = fork();
    CHECK(waiter >= 0);
    if (waiter == 0) {
        if (mp_rlock_acquire(&s->lock, true, 10000) != MP_OWNER_DEAD) _exit(1);
        _exit(mp_rlock_release(&s->lock) == MP_OK ? 0 : 2);
    }
    usleep(50000);
    kill(a, SIGKILL); /* the namespace's init (the holder) dies with its parent */
    waitpid(a, NULL, 0);
    mpt_wait_ok(waiter);
    CHECK_OK(mp_rlock_acquire(&s->lock, true, 5000));
    CHECK_OK(mp_rlock_release(&s->lock));
}

TEST(dying_waiter_with_colliding_tid_does_not_release_live_owner) {
    /* A waiter whose TID equals the live owner's TID (both PID 1 in sibling namespaces)
     * dies while blocked; the kernel must not mark the owner's lock. (The kernel's robust
     * list processing compares the dying thread's TID with the word's owner TID in the
     * dying thread's own namespace; a "pending" entry of a waiter would match.) */
    struct ns_shared *s = mpt_shared(sizeof *s);
    CHECK_OK(mp_rlock_init(&s->lock));
    pid_t a = fork_in_new_pidns(ns_holder, s);
    if (a < 0) { fprintf(stderr, "SKIP: PID namespaces unavailable (needs root)\n"); return; }
    wait_flag(&s->a_holds);
    pid_t b = fork_in_new_pidns(ns_waiter, s);
    CHECK(b > 0);
    wait_flag(&s->b_waiting);
    usleep(50000);
    mpt_kill_and_reap(b); /* the waiter (its child, PID 1 inside) dies with it */
    usleep(50000);
    /* The owner is alive and still holds the lock. */
    CHECK_ST(mp_rlock_acquire(&s->lock, true, 300), MP_TIMEOUT);
    s->release_now = 1;
    mpt_wait_ok(a);
    CHECK_ST(mp_rlock_acquire(&s->lock, true, 5000), MP_OK);
    CHECK_OK(mp_rlock_release(&s->lock));
}

/* ---- threads without a glibc robust list ------------------------------------------ */

#include <sys/syscall.h>

static void *own_list_thread(void *arg) {
    struct shared *s = arg;
    /* Forget glibc's registration, as a raw clone() thread of another runtime would have
     * none: libmpsync must register a list of its own for this thread. */
    syscall(SYS_set_robust_list, NULL, (size_t)24);
    s->results[0] = mp_robust_mode();
    s->results[1] = mp_rlock_acquire(&s->lock, true, MP_FOREVER);
    return NULL; /* exits holding the lock */
}

TEST(thread_without_a_list_gets_our_own_and_is_recovered) {
    struct shared *s = new_shared();
    pthread_t t;
    CHECK(pthread_create(&t, NULL, own_list_thread, s) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(s->results[0] == MP_ROBUST_OWN);
    CHECK(s->results[1] == MP_OK);
    CHECK_ST(mp_rlock_acquire(&s->lock, true, 5000), MP_OWNER_DEAD);
    CHECK_OK(mp_rlock_release(&s->lock));
}

static int own_list_child(void *arg) {
    struct shared *s = arg;
    syscall(SYS_set_robust_list, NULL, (size_t)24);
    if (mp_robust_mode() != MP_ROBUST_OWN) return 2;
    if (mp_rlock_acquire(&s->lock, true, MP_FOREVER) != MP_OK) return 3;
    s->ready = 1;
    for (;;) pause();
}

TEST(process_without_a_list_killed_is_recovered) {
    struct shared *s = new_shared();
    s->ready = 0;
    pid_t pid = mpt_fork(own_list_child, s);
    wait_flag(&s->ready);
    mpt_kill_and_reap(pid);
    CHECK_ST(mp_rlock_acquire(&s->lock, true, 5000), MP_OWNER_DEAD);
    CHECK_OK(mp_rlock_release(&s->lock));
}

TEST(forked_child_of_a_holder_owns_nothing_and_parent_death_is_seen) {
    struct shared *s = new_shared();
    CHECK_OK(mp_rlock_acquire(&s->lock, true, MP_FOREVER));
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        bool mine = true;
        uint32_t n = 9;
        if (mp_rlock_is_mine(&s->lock, &mine) != MP_OK || mine) _exit(2);
        if (mp_rlock_count(&s->lock, &n) != MP_OK || n != 0) _exit(3);
        if (mp_rlock_release(&s->lock) != MP_ENOTOWNER) _exit(4);
        if (mp_rlock_acquire(&s->lock, true, 100) != MP_TIMEOUT) _exit(5);
        _exit(0);
    }
    mpt_wait_ok(pid);
    CHECK_OK(mp_rlock_release(&s->lock));
}
