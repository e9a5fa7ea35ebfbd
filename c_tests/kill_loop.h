/*
 * kill_loop.h — the owner-death kill loop shared by c_tests/test_owner_death.c (1,000+
 * kills in the test suite) and tools/torture_owner_death.c (100,000 kills by hand).
 *
 * Several contender processes and one victim process take an RLock in a loop and update
 * shared data under it; the parent SIGKILLs the victim at random moments (inside acquire,
 * inside the critical section, inside release), starts a new victim, and checks after
 * every kill:
 *   - no deadlock (every acquire uses a timeout; a timeout is a failure);
 *   - mutual exclusion: an "inside" flag is never seen set on a normal entry, and the
 *     guarded counter always equals the sum of the per-process tallies on a normal entry;
 *   - MP_OWNER_DEAD is reported exactly when the victim held the lock: if the victim was
 *     killed while holding it, exactly one acquirer reports MP_OWNER_DEAD; if it was killed
 *     while not holding it, nobody does (inside acquire or release either is allowed: the
 *     victim may or may not hold the lock at that instant).
 * An MP_OWNER_DEAD acquirer repairs the data (clears "inside", recomputes the counter from
 * the tallies), as a real program would.
 */
#ifndef KILL_LOOP_H
#define KILL_LOOP_H
#define _GNU_SOURCE
#include "mpsync.h"
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KL_MAX_PROCS 8
enum { KL_IDLE = 0, KL_ACQUIRING = 1, KL_HOLDING = 2, KL_RELEASING = 3 };

struct kl_shared {
    mp_rlock_t lock;
    /* guarded by lock */
    volatile uint64_t counter;
    volatile uint64_t tally[KL_MAX_PROCS]; /* slot 0 is the victim's (all victims share it) */
    volatile int inside;
    /* lock-free bookkeeping */
    volatile int victim_phase;
    volatile int victim_started;
    volatile int stop;
    volatile uint64_t owner_dead_reports;
    volatile uint64_t errors;
    char error_text[256];
};

static void kl_fail(struct kl_shared *s, const char *what, mp_status st) {
    if (__atomic_fetch_add(&s->errors, 1, __ATOMIC_SEQ_CST) == 0)
        snprintf(s->error_text, sizeof s->error_text, "%s: %s", what, mp_status_name(st));
}

static uint64_t kl_sum(struct kl_shared *s) {
    uint64_t t = 0;
    for (int i = 0; i < KL_MAX_PROCS; i++) t += s->tally[i];
    return t;
}

/* One critical section by process slot `me`; returns the acquire status. */
static mp_status kl_enter(struct kl_shared *s, int me, int victim) {
    if (victim) s->victim_phase = KL_ACQUIRING;
    mp_status st = mp_rlock_acquire(&s->lock, true, 10000);
    if (st == MP_TIMEOUT || st < 0) {
        kl_fail(s, "acquire", st);
        return st;
    }
    if (victim) s->victim_phase = KL_HOLDING;
    if (st == MP_OWNER_DEAD) {
        __atomic_fetch_add(&s->owner_dead_reports, 1, __ATOMIC_SEQ_CST);
        s->inside = 0;              /* repair */
        s->counter = kl_sum(s);
    } else if (s->inside || s->counter != kl_sum(s)) {
        kl_fail(s, "mutual exclusion broken (inside flag or counter mismatch)", st);
    }
    s->inside = 1;
    uint64_t c = s->counter;
    for (volatile int spin = 0; spin < 200; spin++) {}
    s->counter = c + 1;
    s->tally[me]++;
    s->inside = 0;
    if (victim) s->victim_phase = KL_RELEASING;
    mp_status rs = mp_rlock_release(&s->lock);
    if (rs != MP_OK) kl_fail(s, "release", rs);
    if (victim) s->victim_phase = KL_IDLE;
    return st;
}

static void kl_victim(struct kl_shared *s) {
    s->victim_started = 1;
    for (;;) {
        kl_enter(s, 0, 1);
        for (volatile int spin = 0; spin < 100; spin++) {}
    }
}

static void kl_contender(struct kl_shared *s, int me) {
    while (!s->stop) {
        kl_enter(s, me, 0);
        usleep(50);
    }
    _exit(0);
}

struct kl_result {
    long kills, killed_holding, killed_idle, killed_ambiguous;
    long failures;
    char failure[512];
};

/* Runs `iterations` kills with `contenders` contender processes. */
static struct kl_result kl_run(long iterations, int contenders, unsigned seed) {
    struct kl_result r;
    memset(&r, 0, sizeof r);
    struct kl_shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s == MAP_FAILED || mp_rlock_init(&s->lock) != MP_OK) {
        r.failures = 1;
        snprintf(r.failure, sizeof r.failure, "setup failed");
        return r;
    }
    if (contenders > KL_MAX_PROCS - 1) contenders = KL_MAX_PROCS - 1;
    pid_t cpids[KL_MAX_PROCS];
    for (int i = 0; i < contenders; i++) {
        cpids[i] = fork();
        if (cpids[i] == 0) kl_contender(s, i + 1);
    }
    srand(seed);
    for (long it = 0; it < iterations && !r.failures; it++) {
        s->victim_started = 0;
        s->victim_phase = KL_IDLE;
        pid_t v = fork();
        if (v == 0) kl_victim(s);
        while (!s->victim_started) usleep(10);
        usleep(rand() % 400);
        /* Stop the victim wherever it is, read its phase (exact while it is stopped),
         * then kill it there. */
        kill(v, SIGSTOP);
        int wst = 0;
        waitpid(v, &wst, WUNTRACED);
        int phase = s->victim_phase;
        kill(v, SIGKILL);
        waitpid(v, NULL, 0);
        /* Make sure a pending owner-died mark is consumed: take the lock ourselves. */
        mp_status st = kl_enter(s, KL_MAX_PROCS - 1, 0);
        if (st < 0 || st == MP_TIMEOUT) {
            r.failures++;
            snprintf(r.failure, sizeof r.failure, "iteration %ld: parent acquire %s (deadlock?)", it, mp_status_name(st));
            break;
        }
        uint64_t reports = s->owner_dead_reports;
        s->owner_dead_reports = 0;
        r.kills++;
        if (phase == KL_HOLDING) {
            r.killed_holding++;
            if (reports != 1) {
                r.failures++;
                snprintf(r.failure, sizeof r.failure, "iteration %ld: victim killed holding the lock, %llu MP_OWNER_DEAD reports (want 1)", it, (unsigned long long)reports);
            }
        } else if (phase == KL_IDLE) {
            r.killed_idle++;
            if (reports != 0) {
                r.failures++;
                snprintf(r.failure, sizeof r.failure, "iteration %ld: victim killed not holding the lock, %llu MP_OWNER_DEAD reports (want 0)", it, (unsigned long long)reports);
            }
        } else {
            r.killed_ambiguous++;
            if (reports > 1) {
                r.failures++;
                snprintf(r.failure, sizeof r.failure, "iteration %ld: %llu MP_OWNER_DEAD reports for one death", it, (unsigned long long)reports);
            }
        }
        if (s->errors) {
            r.failures++;
            snprintf(r.failure, sizeof r.failure, "iteration %ld: %s", it, s->error_text);
        }
    }
    s->stop = 1;
    for (int i = 0; i < contenders; i++) {
        int wst = 0;
        waitpid(cpids[i], &wst, 0);
    }
    if (!r.failures && s->counter != kl_sum(s)) {
        r.failures++;
        snprintf(r.failure, sizeof r.failure, "final counter %llu != sum of tallies %llu",
                 (unsigned long long)s->counter, (unsigned long long)kl_sum(s));
    }
    munmap(s, sizeof *s);
    return r;
}
#endif
