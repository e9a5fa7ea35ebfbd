/* The C face of libmpsync_cluster against a real etcd cluster (endpoints in argv[1]):
 * argument checks, Lock and RLock, fencing, Semaphore, Event, Barrier, and owner death of a SIGKILLed holder
 * (a fork()ed child that connects on its own). Exits 0 on success. */
#include "mpsync_cluster.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

static mp_cluster_t *connect_or_die(const char *endpoints) {
    mp_cluster_options_t options = {.ttl_secs = 2, .request_timeout_ms = 5000};
    mp_cluster_t *cluster = NULL;
    CHECK(mp_cluster_connect(endpoints, &options, &cluster) == MP_OK);
    return cluster;
}

static void argument_checks(mp_cluster_t *cluster) {
    mp_cluster_t *none = NULL;
    mp_cluster_lock_t *lock = NULL;
    mp_cluster_options_t bad = {.ttl_secs = 0, .request_timeout_ms = 1000};
    CHECK(mp_cluster_connect(NULL, NULL, &none) == MP_EINVAL);
    CHECK(mp_cluster_connect("", NULL, &none) == MP_EINVAL);
    CHECK(mp_cluster_connect("http://127.0.0.1:1", &bad, &none) == MP_EINVAL);
    CHECK(none == NULL);
    CHECK(mp_cluster_lock_open(cluster, "a/b", &lock) == MP_EINVAL);
    CHECK(mp_cluster_lock_open(cluster, "", &lock) == MP_EINVAL);
    CHECK(mp_cluster_lock_open(NULL, "x", &lock) == MP_EINVAL);
    CHECK(mp_cluster_lock_open(cluster, "x", NULL) == MP_EINVAL);
    CHECK(mp_cluster_lock_acquire(NULL, true, 0) == MP_EINVAL);
    CHECK(mp_cluster_lock_release(NULL) == MP_EINVAL);
    CHECK(mp_cluster_lock_close(NULL) == MP_EINVAL);
    CHECK(mp_cluster_close(NULL) == MP_EINVAL);
}

static void lock_and_fence(mp_cluster_t *cluster) {
    mp_cluster_lock_t *a = NULL, *b = NULL;
    int64_t token = 0, token2 = 0, rev = 0;
    CHECK(mp_cluster_lock_open(cluster, "c-lock", &a) == MP_OK);
    CHECK(mp_cluster_lock_open(cluster, "c-lock", &b) == MP_OK);
    CHECK(mp_cluster_lock_fence(a, &token) == MP_ENOTOWNER);
    CHECK(mp_cluster_lock_release(a) == MP_EOVERFLOW);
    CHECK(mp_cluster_lock_acquire(a, true, 1000) == MP_OK);
    CHECK(mp_cluster_lock_fence(a, &token) == MP_OK && token > 0);
    CHECK(mp_cluster_lock_acquire(b, false, 0) == MP_TIMEOUT);
    CHECK(mp_cluster_lock_acquire(b, true, 200) == MP_TIMEOUT);
    CHECK(mp_cluster_lock_fenced_put(a, (const uint8_t *)"/c/res", 6, (const uint8_t *)"v", 1, &rev) == MP_OK);
    CHECK(rev > token);
    CHECK(mp_cluster_lock_fenced_put(a, NULL, 0, NULL, 0, NULL) == MP_EINVAL);
    CHECK(mp_cluster_lock_release(a) == MP_OK);
    CHECK(mp_cluster_lock_acquire(b, true, -1) == MP_OK);
    CHECK(mp_cluster_lock_fence(b, &token2) == MP_OK && token2 > token);
    CHECK(mp_cluster_lock_release(b) == MP_OK);
    CHECK(mp_cluster_lock_close(a) == MP_OK);
    CHECK(mp_cluster_lock_close(b) == MP_OK);
}

static void rlock_recursion(mp_cluster_t *cluster) {
    mp_cluster_rlock_t *r = NULL;
    CHECK(mp_cluster_rlock_open(cluster, "c-rlock", &r) == MP_OK);
    CHECK(mp_cluster_rlock_release(r) == MP_ENOTOWNER);
    CHECK(mp_cluster_rlock_acquire(r, true, 1000) == MP_OK);
    CHECK(mp_cluster_rlock_acquire(r, true, 1000) == MP_OK);
    CHECK(mp_cluster_rlock_release(r) == MP_OK);
    CHECK(mp_cluster_rlock_release(r) == MP_OK);
    CHECK(mp_cluster_rlock_release(r) == MP_ENOTOWNER);
    CHECK(mp_cluster_rlock_close(r) == MP_OK);
}

static void owner_death(const char *endpoints, mp_cluster_t *cluster) {
    int ready[2];
    CHECK(pipe(ready) == 0);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        /* Connect after fork: a connection's runtime thread does not survive fork(). */
        mp_cluster_t *mine = connect_or_die(endpoints);
        mp_cluster_lock_t *lock = NULL;
        CHECK(mp_cluster_lock_open(mine, "c-death", &lock) == MP_OK);
        CHECK(mp_cluster_lock_acquire(lock, true, -1) == MP_OK);
        CHECK(write(ready[1], "h", 1) == 1);
        for (;;) pause();
    }
    char c;
    CHECK(read(ready[0], &c, 1) == 1);
    CHECK(kill(child, SIGKILL) == 0);
    CHECK(waitpid(child, NULL, 0) == child);
    mp_cluster_lock_t *lock = NULL;
    int64_t ttl = 0;
    CHECK(mp_cluster_ttl(cluster, &ttl) == MP_OK && ttl >= 1);
    CHECK(mp_cluster_lock_open(cluster, "c-death", &lock) == MP_OK);
    CHECK(mp_cluster_lock_acquire(lock, true, (ttl + 10) * 1000) == MP_OWNER_DEAD);
    CHECK(mp_cluster_lock_release(lock) == MP_OK);
    CHECK(mp_cluster_lock_acquire(lock, false, 0) == MP_OK);
    CHECK(mp_cluster_lock_close(lock) == MP_OK); /* releases */
}

static void semaphore_event_barrier(mp_cluster_t *cluster) {
    mp_cluster_sem_t *sem = NULL;
    mp_cluster_event_t *event = NULL;
    mp_cluster_barrier_t *barrier = NULL;
    bool set = true;
    uint32_t index = 99;
    CHECK(mp_cluster_sem_open(cluster, "c-sem", 0, &sem) == MP_EINVAL);
    CHECK(mp_cluster_sem_open(cluster, "c-sem", 2, &sem) == MP_OK);
    CHECK(mp_cluster_sem_release(sem) == MP_EOVERFLOW);
    CHECK(mp_cluster_sem_acquire(sem, true, 1000) == MP_OK);
    CHECK(mp_cluster_sem_acquire(sem, true, 1000) == MP_OK);
    CHECK(mp_cluster_sem_acquire(sem, true, 200) == MP_TIMEOUT);
    CHECK(mp_cluster_sem_release(sem) == MP_OK);
    CHECK(mp_cluster_sem_close(sem) == MP_OK); /* gives the other unit back */
    CHECK(mp_cluster_event_open(cluster, "c-event", &event) == MP_OK);
    CHECK(mp_cluster_event_is_set(event, &set) == MP_OK && !set);
    CHECK(mp_cluster_event_wait(event, 100) == MP_TIMEOUT);
    CHECK(mp_cluster_event_set(event) == MP_OK);
    CHECK(mp_cluster_event_wait(event, -1) == MP_OK);
    CHECK(mp_cluster_event_clear(event) == MP_OK);
    CHECK(mp_cluster_event_close(event) == MP_OK);
    CHECK(mp_cluster_barrier_open(cluster, "c-barrier", 1, &barrier) == MP_OK);
    CHECK(mp_cluster_barrier_wait(barrier, 1000, &index) == MP_OK && index == 0);
    CHECK(mp_cluster_barrier_abort(barrier) == MP_OK);
    CHECK(mp_cluster_barrier_wait(barrier, 1000, NULL) == MP_EBROKEN);
    CHECK(mp_cluster_barrier_reset(barrier) == MP_OK);
    CHECK(mp_cluster_barrier_wait(barrier, 1000, NULL) == MP_OK);
    CHECK(mp_cluster_barrier_close(barrier) == MP_OK);
}

int main(int argc, char **argv) {
    CHECK(argc == 2);
    mp_cluster_t *cluster = connect_or_die(argv[1]);
    argument_checks(cluster);
    lock_and_fence(cluster);
    rlock_recursion(cluster);
    semaphore_event_barrier(cluster);
    owner_death(argv[1], cluster);
    CHECK(mp_cluster_close(cluster) == MP_OK);
    puts("test_cluster_lock: ok");
    return 0;
}
