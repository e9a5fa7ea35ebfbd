/* The C side of the cross-language tests (python/tests/test_cross_language.py).
 *   helper count PREFIX N   open PREFIX-lock (RLock), PREFIX-cond (Condition) and
 *                           PREFIX-arr (Array 'q' x 2, no lock of its own); add 1 to
 *                           arr[0] N times under the RLock; then set arr[1] = 1 and
 *                           notify_all under it; then wait on the condition until
 *                           arr[1] == 2 and print arr[0].
 *   helper wait NAME        acquire the RLock NAME (waiting forever), print the status
 *                           name (MP_OK / MP_OWNER_DEAD), release it.
 *   helper shm NAME SIZE    create the block NAME (exclusive), fill byte i with i % 251,
 *                           print "made", exit without unlinking it.
 *   helper shmcheck NAME    open the block NAME and print "intact" if every byte still
 *                           holds its pattern.
 * Every failure prints the status name and exits 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mpsync.h"

static void check(mp_status st, const char *what) {
    if (st < 0) {
        printf("FAIL %s: %s\n", what, mp_status_name(st));
        exit(1);
    }
}

static int count(const char *prefix, long n) {
    char name[256];
    mp_rlock_t *lock;
    mp_cond_t *cond;
    mp_array_t *arr;
    snprintf(name, sizeof name, "%s-lock", prefix);
    check(mp_rlock_open(name, MP_CREATE, 0, &lock), "rlock_open");
    snprintf(name, sizeof name, "%s-cond", prefix);
    check(mp_cond_open(name, MP_CREATE, 0, &cond), "cond_open");
    snprintf(name, sizeof name, "%s-arr", prefix);
    check(mp_array_open(name, MP_CREATE, 0, MP_TYPE_LONGLONG, 2, false, &arr), "array_open");
    for (long i = 0; i < n; i++) {
        long long v;
        check(mp_rlock_acquire(lock, true, MP_FOREVER), "acquire");
        check(mp_array_get(arr, 0, &v), "get");
        v += 1;
        check(mp_array_set(arr, 0, &v), "set");
        check(mp_rlock_release(lock), "release");
    }
    long long one = 1, flag = 0, total = 0;
    check(mp_rlock_acquire(lock, true, MP_FOREVER), "acquire");
    check(mp_array_set(arr, 1, &one), "set flag");
    check(mp_cond_notify_all(cond), "notify_all");
    for (;;) {
        check(mp_array_get(arr, 1, &flag), "get flag");
        if (flag == 2) break;
        mp_status st = mp_cond_wait(cond, lock, 30000);
        if (st == MP_TIMEOUT) { printf("FAIL timeout waiting for python\n"); return 1; }
        check(st, "cond_wait");
    }
    check(mp_array_get(arr, 0, &total), "get total");
    check(mp_rlock_release(lock), "release");
    printf("%lld\n", total);
    return 0;
}

/* Raw-bytes queue peer: takes messages from queue `in` until end of stream and puts
 * each back on queue `out` with "C:" in front; then declares end of stream on `out`. */
static int queue_echo(const char *in_name, const char *out_name) {
    mp_queue_t *in = NULL, *out = NULL;
    if (mp_queue_open(in_name, 0, 0, 0, &in) != MP_OK) return 3;
    if (mp_queue_open(out_name, 0, 0, 0, &out) != MP_OK) return 4;
    char buf[4096] = "C:";
    for (;;) {
        size_t n = 0;
        mp_status st = mp_queue_get(in, buf + 2, sizeof buf - 2, &n, true, 30000);
        if (st == MP_ECLOSED) break;
        if (st != MP_OK) return 5;
        if (mp_queue_put(out, buf, n + 2, true, 30000) != MP_OK) return 6;
    }
    mp_queue_close_producer(out);
    return mp_queue_close(in) == MP_OK && mp_queue_close(out) == MP_OK ? 0 : 7;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "qecho") == 0) return queue_echo(argv[2], argv[3]);
    if (argc == 4 && strcmp(argv[1], "count") == 0) return count(argv[2], atol(argv[3]));
    if (argc == 3 && strcmp(argv[1], "wait") == 0) {
        mp_rlock_t *lock;
        check(mp_rlock_open(argv[2], 0, 0, &lock), "rlock_open");
        printf("waiting\n");
        fflush(stdout);
        mp_status st = mp_rlock_acquire(lock, true, MP_FOREVER);
        check(st, "acquire");
        printf("%s\n", mp_status_name(st));
        check(mp_rlock_release(lock), "release");
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "shm") == 0) {
        mp_shm_t *shm;
        size_t size = (size_t)atol(argv[3]);
        check(mp_shm_open(argv[2], MP_CREATE | MP_EXCL, size, 0, &shm), "shm_open");
        unsigned char *p = mp_shm_data(shm);
        for (size_t i = 0; i < size; i++) p[i] = (unsigned char)(i % 251);
        check(mp_shm_close(shm), "shm_close");
        printf("made\n");
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "shmcheck") == 0) {
        mp_shm_t *shm;
        check(mp_shm_open(argv[2], 0, 0, 0, &shm), "shm_open");
        const unsigned char *p = mp_shm_data(shm);
        size_t size = mp_shm_size(shm);
        for (size_t i = 0; i < size; i++) {
            if (p[i] != (unsigned char)(i % 251)) { printf("changed at %zu\n", i); return 1; }
        }
        check(mp_shm_close(shm), "shm_close");
        printf("intact\n");
        return 0;
    }
    fprintf(stderr, "usage: see the comment at the top of helper.c\n");
    return 2;
}
