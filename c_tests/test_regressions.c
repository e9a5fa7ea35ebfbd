/* Regression tests for library bugs found while writing the Lock/RLock/Semaphore C tests:
 *  - a semaphore whose waiter was SIGKILLed could never be destroyed (MP_EBUSY forever);
 *  - a process could hold at most 4096 library-made mappings (objects).
 */
#include "mpt_util.h"

static void bug(const char *what) {
    fprintf(stderr, "BUG: %s\n", what);
    _exit(1);
}

static int wait_forever(void *p) {
    mp_sem_acquire((mp_sem_t *)p, true, MP_FOREVER);
    return 0;
}

/* The contract (docs/api-conventions.md): "mp_T_destroy on an object that is held or
 * waited on returns MP_EBUSY".
 * A waiter that was SIGKILLed while asleep is no waiter, yet src/raw/sem.rs keeps it
 * counted in `sleepers`; destroy must ask the kernel, not trust the count. A live sleeper
 * still makes it MP_EBUSY. */
TEST(sem_destroy_after_killed_waiter) {
    mp_sem_t *s = mpt_shared(4096);
    CHECK_OK(mp_sem_init(s, 0, 1));
    pid_t pid = mpt_fork(wait_forever, s);
    mpt_wait_sleeping(pid, 0);
    CHECK(kill(pid, SIGKILL) == 0);
    CHECK(waitpid(pid, NULL, 0) == pid);
    /* The semaphore itself still works. */
    CHECK_OK(mp_sem_release(s));
    CHECK_OK(mp_sem_acquire(s, false, 0));
    pid_t live = mpt_fork(wait_forever, s);
    mpt_wait_sleeping(live, 0);
    CHECK_ST(mp_sem_destroy(s), MP_EBUSY);
    CHECK(kill(live, SIGKILL) == 0);
    CHECK(waitpid(live, NULL, 0) == live);
    mp_status st = mp_sem_destroy(s);
    if (st == MP_EBUSY) bug("mp_sem_destroy is MP_EBUSY forever after a waiter was killed (src/raw/sem.rs sleepers)");
    else CHECK_OK(st);
}

/* CPython lets a process hold tens of thousands of Locks (each sem_open is one
 * mapping; the limit is vm.max_map_count, 65530). src/sys/shm.rs records every mapping
 * in a table that must not have a small fixed size. */
TEST(more_than_4096_objects_per_process) {
    enum { N = 10000 };
    static mp_lock_t *locks[N];
    int n = 0;
    mp_status st = MP_OK;
    for (; n < N; n++) {
        st = mp_lock_new(&locks[n]);
        if (st != MP_OK) break;
    }
    for (int i = 0; i < n; i++) CHECK_OK(mp_lock_close(locks[i]));
    if (n < N) {
        char msg[160];
        snprintf(msg, sizeof msg, "mp_lock_new failed with %s after %d live objects (src/sys/shm.rs MAX_MAPPINGS)",
                 mp_status_name(st), n);
        bug(msg);
    }
}
