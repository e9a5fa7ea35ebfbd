/* MP_REPORT_CREATED / MP_CREATED: an open tells its caller whether it created the
 * object, for every mp_*_open (lock, rlock, sem, sem_undo, cond, event, barrier, rwlock,
 * array, shm, queue).
 * Real concurrent creators (forked processes released by one gate) all succeed, and
 * exactly one of them is told MP_CREATED; without the flag nobody is. */
#include "mpt_util.h"

enum kind {
    K_LOCK, K_RLOCK, K_SEM, K_SEM_UNDO, K_COND, K_EVENT, K_BARRIER, K_RWLOCK, K_ARRAY, K_QUEUE,
    K_SHM, K_COUNT
};

static const char *kind_name(enum kind k) {
    static const char *names[] = {"lock",    "rlock",  "sem",   "sem_undo", "cond", "event",
                                   "barrier", "rwlock", "array", "queue",    "shm"};
    return names[k];
}

/* mp_<kind>_open(name, flags, ...) then mp_<kind>_close of what it opened (if it did). */
static mp_status open_close(enum kind k, const char *name, uint32_t flags) {
    void *p = NULL;
    mp_status st;
    switch (k) {
    case K_LOCK: st = mp_lock_open(name, flags, 0, (mp_lock_t **)&p); break;
    case K_RLOCK: st = mp_rlock_open(name, flags, 0, (mp_rlock_t **)&p); break;
    case K_SEM: st = mp_sem_open(name, flags, 0, 1, 1, (mp_sem_t **)&p); break;
    case K_SEM_UNDO: st = mp_sem_undo_open(name, flags, 0, 1, 1, (mp_sem_undo_t **)&p); break;
    case K_COND: st = mp_cond_open(name, flags, 0, (mp_cond_t **)&p); break;
    case K_EVENT: st = mp_event_open(name, flags, 0, (mp_event_t **)&p); break;
    case K_BARRIER: st = mp_barrier_open(name, flags, 0, 2, (mp_barrier_t **)&p); break;
    case K_RWLOCK: st = mp_rwlock_open(name, flags, 0, (mp_rwlock_t **)&p); break;
    case K_ARRAY: st = mp_array_open(name, flags, 0, MP_TYPE_INT, 4, true, (mp_array_t **)&p); break;
    case K_QUEUE: st = mp_queue_open(name, flags, 0, 4096, (mp_queue_t **)&p); break;
    default: st = mp_shm_open(name, flags, 4096, 0, (mp_shm_t **)&p); break;
    }
    if (st < 0) {
        CHECK(p == NULL); /* out-parameters are written only on success */
        return st;
    }
    CHECK(p != NULL);
    mp_status closed;
    switch (k) {
    case K_LOCK: closed = mp_lock_close(p); break;
    case K_RLOCK: closed = mp_rlock_close(p); break;
    case K_SEM: closed = mp_sem_close(p); break;
    case K_SEM_UNDO: closed = mp_sem_undo_close(p); break;
    case K_COND: closed = mp_cond_close(p); break;
    case K_EVENT: closed = mp_event_close(p); break;
    case K_BARRIER: closed = mp_barrier_close(p); break;
    case K_RWLOCK: closed = mp_rwlock_close(p); break;
    case K_ARRAY: closed = mp_array_close(p); break;
    case K_QUEUE: closed = mp_queue_close(p); break;
    default: closed = mp_shm_close(p); break;
    }
    CHECK_OK(closed);
    return st;
}

/* One process at a time: what each combination of flags reports. */
TEST(created_reported_only_when_asked) {
    for (int k = 0; k < K_COUNT; k++) {
        char name[64], tag[32];
        snprintf(tag, sizeof tag, "created-%s", kind_name(k));
        mpt_name(name, sizeof name, tag);
        const uint32_t report = MP_REPORT_CREATED;
        CHECK_ST(open_close(k, name, report), MP_ENOENT);
        CHECK_ST(open_close(k, name, MP_EXCL | report), MP_EINVAL);
        CHECK_ST(open_close(k, name, MP_CREATE | report), MP_CREATED);
        CHECK_ST(open_close(k, name, MP_CREATE | report), MP_OK);       /* exists now */
        CHECK_ST(open_close(k, name, report), MP_OK);
        CHECK_ST(open_close(k, name, MP_CREATE), MP_OK);
        CHECK_ST(open_close(k, name, MP_CREATE | MP_EXCL | report), MP_EEXIST);
        CHECK_OK(mp_unlink(name));
        CHECK_ST(open_close(k, name, MP_CREATE), MP_OK);                /* not asked */
        CHECK_OK(mp_unlink(name));
        CHECK_ST(open_close(k, name, MP_CREATE | MP_EXCL | report), MP_CREATED);
        CHECK_OK(mp_unlink(name));
        /* An unknown bit next to it is still refused. */
        CHECK_ST(open_close(k, name, MP_CREATE | report | 0x10000), MP_EINVAL);
        CHECK(!mpt_file_exists(name));
    }
    /* mp_shm_open without a name (a fresh one is chosen) always creates. */
    mp_shm_t *shm = NULL;
    CHECK_ST(mp_shm_open(NULL, MP_CREATE | MP_EXCL | MP_REPORT_CREATED, 4096, 0, &shm), MP_CREATED);
    CHECK_OK(mp_unlink(mp_shm_name(shm)));
    CHECK_OK(mp_shm_close(shm));
    CHECK(strcmp(mp_status_name(MP_CREATED), "MP_CREATED") == 0);
}

/* n forked processes open one fresh name with MP_CREATE | MP_REPORT_CREATED at the
 * same moment, several rounds per kind: every one succeeds, exactly one is told
 * MP_CREATED. */
TEST(created_exactly_one_of_concurrent_creators) {
    enum { N = 8, ROUNDS = 6 };
    mp_status *seen = mmap(NULL, sizeof(mp_status) * N, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(seen != MAP_FAILED);
    for (int k = 0; k < K_COUNT; k++) {
        for (int round = 0; round < ROUNDS; round++) {
            char name[64], tag[40];
            snprintf(tag, sizeof tag, "created-race-%s-%d", kind_name(k), round);
            mpt_name(name, sizeof name, tag);
            struct mpt_gate gate;
            mpt_gate_init(&gate);
            pid_t pids[N];
            for (int i = 0; i < N; i++) {
                seen[i] = -100;
                pids[i] = fork();
                CHECK(pids[i] >= 0);
                if (pids[i] == 0) {
                    mpt_gate_wait(&gate);
                    seen[i] = open_close(k, name, MP_CREATE | MP_REPORT_CREATED);
                    _exit(0);
                }
            }
            mpt_gate_open(&gate);
            mpt_wait_all(pids, N);
            int created = 0;
            for (int i = 0; i < N; i++) {
                if (seen[i] != MP_OK && seen[i] != MP_CREATED)
                    fprintf(stderr, "%s round %d: creator %d got %s\n", kind_name(k), round, i,
                            mp_status_name(seen[i]));
                CHECK(seen[i] == MP_OK || seen[i] == MP_CREATED);
                created += seen[i] == MP_CREATED;
            }
            if (created != 1) fprintf(stderr, "%s round %d: %d creators told MP_CREATED\n", kind_name(k), round, created);
            CHECK(created == 1);
            CHECK_OK(mp_unlink(name));
        }
    }
    munmap(seen, sizeof(mp_status) * N);
}

