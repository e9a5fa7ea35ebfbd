/*
 * Undo-semaphore cost against a process-shared sem_t, block by block within one
 * process (issue 26): each block makes a fresh undo semaphore (new pages) and times
 * 2 x 300,000 acquire + release pairs of it and of one sem_t, alternately, in thread CPU
 * time, pinned to one CPU. It prints, per block, the ratio and both costs, and once the
 * page lines that matter for 4K aliasing: the home slot's, the stack's and the robust
 * head's. Run it as several fresh processes to see the spread (BENCHMARKS.md, "Undo
 * semaphore: the spread over processes"). Build and run:
 *
 *   cargo build --release
 *   cc -O2 -Iinclude tools/sem_undo_spread.c -Ltarget/release -lmpsync \
 *      -Wl,-rpath,$PWD/target/release -pthread -o target/sem_undo_spread
 *   for i in $(seq 10); do target/sem_undo_spread 8; done
 *
 * Arguments: blocks (default 8), CPU (default 0).
 */
#define _GNU_SOURCE
#include "cpu_time.h"
#include <mpsync.h>
#include <sched.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PAIRS 300000

static double undo_ns(mp_sem_undo_t *u) {
    double t0 = thread_cpu_ns();
    for (int i = 0; i < PAIRS; i++)
        if (mp_sem_undo_acquire(u, true, MP_FOREVER) != MP_OK || mp_sem_undo_release(u) != MP_OK) abort();
    return (thread_cpu_ns() - t0) / PAIRS;
}

static double sem_ns(sem_t *s) {
    double t0 = thread_cpu_ns();
    for (int i = 0; i < PAIRS; i++)
        if (sem_wait(s) != 0 || sem_post(s) != 0) abort();
    return (thread_cpu_ns() - t0) / PAIRS;
}

/* The page line (0..63) of the slot this thread holds after one acquire + release: the
 * idle slot whose word is tid | IDLE (raw layout, docs/abi.md: slots of 64 bytes from
 * +64, IDLE = bit 29). */
static int home_line(mp_sem_undo_t *u) {
    uint32_t idle = (uint32_t)syscall(SYS_gettid) | (1u << 29);
    for (int j = 0; j < MP_SEM_UNDO_HOLDERS; j++) {
        const char *slot = (const char *)u + 64 + 64 * j;
        if (*(const volatile uint32_t *)slot == idle) return (int)(((uintptr_t)slot % 4096) / 64);
    }
    return -1;
}

int main(int argc, char **argv) {
    int blocks = argc > 1 ? atoi(argv[1]) : 8, cpu = argc > 2 ? atoi(argv[2]) : 0;
    pin_to_cpu(cpu);
    sem_t *s = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s == MAP_FAILED || sem_init(s, 1, 1) != 0) return 2;
    int line = -1;
    for (int b = 0; b < blocks; b++) {
        mp_sem_undo_t *u; /* kept: the next block gets fresh pages */
        if (mp_sem_undo_new(1, 1, &u) != MP_OK) return 2;
        undo_ns(u);
        double a = undo_ns(u), c = sem_ns(s), a2 = undo_ns(u), c2 = sem_ns(s);
        printf("%.2f (%.1f/%.1f ns) ", (a + a2) / (c + c2), (a + a2) / 2, (c + c2) / 2);
        line = home_line(u);
    }
    void *head = NULL;
    size_t len = 0;
    syscall(SYS_get_robust_list, 0, &head, &len);
    volatile int probe = 0;
    printf("| home slot line %d, stack line %d, robust head line %d\n", line,
           (int)(((uintptr_t)&probe % 4096) / 64), (int)(((uintptr_t)head % 4096) / 64));
    return 0;
}
