/*
 * A/B of library builds inside one process (issues 26 and 23): dlopen()s each build
 * given (a private copy of each, so that they are separate libraries) and times, in
 * every round, the undo semaphore pair, the RwLock read and write pairs, and their
 * anchors (a process-shared sem_t, a process-shared pthread_rwlock_t), in blocks that
 * alternate between the builds. Every build thus meets the same machine (this VM's
 * fast and slow modes flip within seconds; fresh processes compared one after the other
 * mostly measure which mode each met). Thread CPU time, pinned to CPU 0.
 *
 * Prints, per build and row: the median over rounds of the ratio to the anchor, and of
 * the ratio to the first build's time in the same round (the A/B figure). Two copies
 * of one build read within 0.5 % of each other; builds whose code differs only in
 * placement have read up to 4 % apart, so smaller differences mean nothing.
 * BENCHMARKS.md, "Undo semaphore and RWLock: a fourth pass", has runs. Build and run:
 *
 *   cc -O2 tools/sem_undo_ab.c -ldl -pthread -o target/sem_undo_ab
 *   target/sem_undo_ab 20 /path/to/A/libmpsync.so /path/to/B/libmpsync.so
 *
 * Arguments: rounds (at most 200), then 1 to 8 library paths.
 */
#define _GNU_SOURCE
#include "cpu_time.h"
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 20000
#define BLOCKS 20
#define MAX_BUILDS 8
#define MAX_ROUNDS 200
#define ROWS 3

typedef int (*acquire_fn)(void *, bool, int64_t);
typedef int (*release_fn)(void *);

struct build {
    const char *path;
    void *undo, *rw;
    acquire_fn undo_acquire, read_acquire, write_acquire;
    release_fn undo_release, read_release, write_release;
};

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void *symbol(void *lib, const char *name) {
    void *p = dlsym(lib, name);
    if (p == NULL) {
        fprintf(stderr, "%s: %s\n", name, dlerror());
        exit(2);
    }
    return p;
}

/* Loads a private copy of `path` (dlopen() of the same file twice gives one library). */
static void load(struct build *b, const char *path, int index) {
    char copy[64];
    snprintf(copy, sizeof copy, "/tmp/sem_undo_ab.%d.%d.so", (int)getpid(), index);
    FILE *in = fopen(path, "rb"), *out = fopen(copy, "wb");
    if (in == NULL || out == NULL) {
        perror(path);
        exit(2);
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, out);
    fclose(in);
    fclose(out);
    void *lib = dlopen(copy, RTLD_NOW | RTLD_LOCAL);
    unlink(copy);
    if (lib == NULL) {
        fprintf(stderr, "%s\n", dlerror());
        exit(2);
    }
    b->path = path;
    int (*undo_new)(uint32_t, uint32_t, void **) =
        (int (*)(uint32_t, uint32_t, void **))symbol(lib, "mp_sem_undo_new");
    int (*rw_new)(void **) = (int (*)(void **))symbol(lib, "mp_rwlock_new");
    if (undo_new(1, 1, &b->undo) != 0 || rw_new(&b->rw) != 0) exit(2);
    b->undo_acquire = (acquire_fn)symbol(lib, "mp_sem_undo_acquire");
    b->undo_release = (release_fn)symbol(lib, "mp_sem_undo_release");
    b->read_acquire = (acquire_fn)symbol(lib, "mp_rwlock_acquire_read");
    b->read_release = (release_fn)symbol(lib, "mp_rwlock_release_read");
    b->write_acquire = (acquire_fn)symbol(lib, "mp_rwlock_acquire_write");
    b->write_release = (release_fn)symbol(lib, "mp_rwlock_release_write");
}

static double pairs(void *obj, acquire_fn acquire, release_fn release) {
    double t = thread_cpu_ns();
    for (int i = 0; i < BLOCK; i++)
        if (acquire(obj, true, -1) != 0 || release(obj) != 0) abort();
    return thread_cpu_ns() - t;
}

static double median(double *x, int n) {
    qsort(x, (size_t)n, sizeof *x, by_value);
    return x[n / 2];
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 0, builds = argc - 2;
    if (rounds < 1 || rounds > MAX_ROUNDS || builds < 1 || builds > MAX_BUILDS) {
        fprintf(stderr, "usage: %s ROUNDS LIB.so [LIB.so ...]\n", argv[0]);
        return 2;
    }
    pin_to_cpu(0);
    static struct build b[MAX_BUILDS];
    for (int i = 0; i < builds; i++) load(&b[i], argv[i + 2], i);
    char *shm = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shm == MAP_FAILED) return 2;
    sem_t *sem = (sem_t *)shm;
    pthread_rwlock_t *prw = (pthread_rwlock_t *)(shm + 1024);
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (sem_init(sem, 1, 1) != 0 || pthread_rwlock_init(prw, &attr) != 0) return 2;
    static double to_anchor[MAX_BUILDS][ROWS][MAX_ROUNDS], to_first[MAX_BUILDS][ROWS][MAX_ROUNDS];
    static const char *rows[ROWS] = {"undo / sem_t", "read / pthread", "write / pthread"};
    for (int r = 0; r < rounds; r++) {
        double anchor[ROWS] = {0}, t[MAX_BUILDS][ROWS];
        memset(t, 0, sizeof t);
        for (int k = 0; k < BLOCKS; k++) {
            double s = thread_cpu_ns();
            for (int i = 0; i < BLOCK; i++) {
                sem_wait(sem);
                sem_post(sem);
            }
            anchor[0] += thread_cpu_ns() - s;
            s = thread_cpu_ns();
            for (int i = 0; i < BLOCK; i++) {
                pthread_rwlock_rdlock(prw);
                pthread_rwlock_unlock(prw);
            }
            anchor[1] += thread_cpu_ns() - s;
            s = thread_cpu_ns();
            for (int i = 0; i < BLOCK; i++) {
                pthread_rwlock_wrlock(prw);
                pthread_rwlock_unlock(prw);
            }
            anchor[2] += thread_cpu_ns() - s;
            for (int i = 0; i < builds; i++) {
                t[i][0] += pairs(b[i].undo, b[i].undo_acquire, b[i].undo_release);
                t[i][1] += pairs(b[i].rw, b[i].read_acquire, b[i].read_release);
                t[i][2] += pairs(b[i].rw, b[i].write_acquire, b[i].write_release);
            }
        }
        double n = (double)BLOCK * BLOCKS;
        printf("round %d: anchors %.2f %.2f %.2f ns;", r, anchor[0] / n, anchor[1] / n,
               anchor[2] / n);
        for (int i = 0; i < builds; i++) {
            printf("  build %d: %.2f %.2f %.2f ns", i, t[i][0] / n, t[i][1] / n, t[i][2] / n);
            for (int row = 0; row < ROWS; row++) {
                to_anchor[i][row][r] = t[i][row] / anchor[row];
                to_first[i][row][r] = t[i][row] / t[0][row];
            }
        }
        printf("\n");
    }
    for (int i = 0; i < builds; i++) {
        printf("build %d (%s)\n", i, b[i].path);
        for (int row = 0; row < ROWS; row++)
            printf("  %-16s %.3f   vs build 0: %.3f\n", rows[row],
                   median(to_anchor[i][row], rounds), median(to_first[i][row], rounds));
    }
    return 0;
}
