/*
 * queue_c.c — mp_queue_t against POSIX message queues (mq_send/mq_receive), in one
 * run: one producer process, one consumer process, N messages of 64 bytes and of
 * 4 KiB, messages per second (median of REPS interleaved repetitions), and the memory a
 * queue holds. Run by bench/queue.sh (see BENCHMARKS.md, "Queue"):
 *     ./queue_c [REPS]
 * Prints one line per row:  Q <row> <msgs_per_s>, then per ratio
 *     RATIO <row> <x>  (median over repetitions of the ratio within each repetition)
 *     SPREAD <row> <min> <max> <every repetition's ratio...>
 * Each repetition runs the three kinds back to back with fresh queues and a fresh
 * producer process, so a ratio compares runs made in the same second: this machine's
 * speed drifts over seconds to minutes (BENCHMARKS.md, "Undo semaphore: the spread over
 * processes"), and a ratio of medians taken at different moments mixes its modes.
 * Both sides use blocking calls; the POSIX queue gets the default limit of 10 messages
 * (/proc/sys/fs/mqueue/msg_max) and the mpsync queue 256 KiB. The consumer checks each
 * message's sequence number (no message lost, duplicated or reordered).
 */
#define _GNU_SOURCE
#include "mpsync.h"
#include <fcntl.h>
#include <mqueue.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BATCH 16

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, int st) {
    fprintf(stderr, "queue_c: %s failed (%d)\n", what, st);
    exit(1);
}

enum impl { MPSYNC, MPSYNC_BATCH, POSIX_MQ };
static const char *impl_name[] = {"mpsync", "mpsync_batch16", "posix_mq"};

/* Messages per second for `n` messages of `size` bytes through `impl`. */
static double run(enum impl impl, size_t size, long n) {
    mp_queue_t *q = NULL;
    mqd_t mq = (mqd_t)-1;
    char mqname[64];
    if (impl == POSIX_MQ) {
        snprintf(mqname, sizeof mqname, "/qbench-%d", (int)getpid());
        struct mq_attr a = {.mq_maxmsg = 10, .mq_msgsize = (long)size};
        mq = mq_open(mqname, O_CREAT | O_EXCL | O_RDWR, 0600, &a);
        if (mq == (mqd_t)-1) die("mq_open", 0);
    } else {
        mp_status st = mp_queue_new(256 * 1024, &q);
        if (st != MP_OK) die("mp_queue_new", st);
    }
    volatile int *go = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pid_t pid = fork();
    if (pid == 0) {
        char *msgs = calloc(BATCH, size);
        const void *ptrs[BATCH];
        size_t lens[BATCH];
        for (int i = 0; i < BATCH; i++) ptrs[i] = msgs + i * size, lens[i] = size;
        while (!*go) {}
        for (long i = 0; i < n;) {
            if (impl == MPSYNC_BATCH) {
                int k = n - i < BATCH ? (int)(n - i) : BATCH;
                for (int j = 0; j < k; j++) memcpy(msgs + j * size, &(long){i + j}, sizeof(long));
                mp_status st = mp_queue_put_many(q, ptrs, lens, (size_t)k, true, MP_FOREVER);
                if (st != MP_OK) die("mp_queue_put_many", st);
                i += k;
                continue;
            }
            memcpy(msgs, &i, sizeof i);
            if (impl == MPSYNC) {
                mp_status st = mp_queue_put(q, msgs, size, true, MP_FOREVER);
                if (st != MP_OK) die("mp_queue_put", st);
            } else if (mq_send(mq, msgs, size, 0) != 0) {
                die("mq_send", 0);
            }
            i++;
        }
        _exit(0);
    }
    char *buf = malloc(BATCH * size);
    size_t lens[BATCH];
    *go = 1;
    double t0 = now_s();
    for (long i = 0; i < n;) {
        size_t got = 1;
        if (impl == MPSYNC) {
            mp_status st = mp_queue_get(q, buf, size, &lens[0], true, MP_FOREVER);
            if (st != MP_OK) die("mp_queue_get", st);
        } else if (impl == MPSYNC_BATCH) {
            mp_status st = mp_queue_get_many(q, buf, BATCH * size, lens, BATCH, &got, true, MP_FOREVER);
            if (st != MP_OK) die("mp_queue_get_many", st);
        } else {
            unsigned prio;
            if (mq_receive(mq, buf, size, &prio) != (ssize_t)size) die("mq_receive", 0);
        }
        for (size_t j = 0; j < got; j++) {
            long seq;
            memcpy(&seq, buf + j * size, sizeof seq);
            if (seq != i + (long)j) die("sequence check", (int)seq);
        }
        i += (long)got;
    }
    double dt = now_s() - t0;
    waitpid(pid, NULL, 0);
    free(buf);
    munmap((void *)go, 4096);
    if (impl == POSIX_MQ) {
        mq_close(mq);
        mq_unlink(mqname);
    } else {
        mp_queue_close(q);
    }
    return n / dt;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    if (reps < 1 || reps > 99) reps = 5;
    size_t sizes[2] = {64, 4096};
    long counts[2] = {400000, 100000};
    for (int s = 0; s < 2; s++) {
        double r[3][99];
        for (int k = 0; k < reps; k++)
            for (int i = 0; i < 3; i++) r[i][k] = run((enum impl)i, sizes[s], counts[s]);
        double med[3];
        for (int i = 0; i < 3; i++) {
            double sorted[99];
            memcpy(sorted, r[i], sizeof(double) * (size_t)reps);
            qsort(sorted, (size_t)reps, sizeof(double), cmp);
            med[i] = sorted[reps / 2];
            printf("Q %s_%zuB %.0f\n", impl_name[i], sizes[s], med[i]);
        }
        for (int i = MPSYNC; i <= MPSYNC_BATCH; i++) {
            double ratio[99], sorted[99];
            for (int k = 0; k < reps; k++) ratio[k] = sorted[k] = r[i][k] / r[POSIX_MQ][k];
            qsort(sorted, (size_t)reps, sizeof(double), cmp);
            printf("RATIO %s/posix_mq_%zuB %.2f\n", impl_name[i], sizes[s], sorted[reps / 2]);
            printf("SPREAD %s/posix_mq_%zuB %.2f %.2f", impl_name[i], sizes[s], sorted[0],
                   sorted[reps - 1]);
            for (int k = 0; k < reps; k++) printf(" %.2f", ratio[k]);
            printf("\n");
        }
    }
    /* Memory: what one queue holds (its mapping: the 192-byte descriptor and the ring,
     * rounded up to pages; pages are allocated as the ring is first written). */
    long page = sysconf(_SC_PAGESIZE);
    size_t caps[3] = {4096, 65536, 1 << 20};
    for (int i = 0; i < 3; i++) {
        size_t bytes = (192 + caps[i] + (size_t)page - 1) / (size_t)page * (size_t)page;
        printf("MEM mp_queue_new(%zu) %zu bytes of shared memory\n", caps[i], bytes);
    }
    return 0;
}
