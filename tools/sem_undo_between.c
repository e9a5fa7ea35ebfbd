/*
 * What the work between two locked instructions costs on this machine (issues 26 and
 * 23): a pair of locked instructions (a CAS that takes a word in shared memory and an
 * exchange that frees it) with nothing else, then with one kind of work added in front
 * of each, next to a process-shared sem_t pair and an undo semaphore pair, round by
 * round in one process (thread CPU time, pinned to one CPU). BENCHMARKS.md, "Undo
 * semaphore and RWLock: a fourth pass", has a run. Build and run:
 *
 *   cargo build --release
 *   cc -O2 -Iinclude tools/sem_undo_between.c -Ltarget/release -lmpsync \
 *      -Wl,-rpath,$PWD/target/release -pthread -o target/sem_undo_between
 *   target/sem_undo_between 10
 *
 * Arguments: rounds (default 10), CPU (default 0).
 *
 * Columns: `atomics` the two locked instructions alone; `+stores` seven plain stores
 * around them (the thread's robust-list head, a TLS word, a heap word and two words of
 * shared memory, one in the locked word's line); `+loads` four dependent loads in front
 * of each (pointer chasing in private memory, as the fast paths' chain thread pointer
 * -> context -> book -> top); `+alu` a chain of 16 dependent additions in front of each;
 * `+branches` eight compares and predictable branches in front of each.
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
#define KINDS 8

struct robust_head {
    uintptr_t next;
    long offset;
    uintptr_t pending;
};

static __thread uintptr_t tls_words[16] __attribute__((aligned(64)));
static uintptr_t *chase; /* four links, then a non-zero end */
static volatile uintptr_t *heap_word;
static volatile uintptr_t *pending;
static volatile uint32_t *word;
static volatile uintptr_t *same_line, *other_line;
static volatile uintptr_t branch_input;
static sem_t *sem;
static mp_sem_undo_t *undo;
static uint32_t tid;

static inline void take(void) {
    uint32_t expected = 0;
    __atomic_compare_exchange_n(word, &expected, tid, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static inline void give(void) { __atomic_exchange_n(word, 0, __ATOMIC_SEQ_CST); }

static inline void chase_links(void) {
    uintptr_t *p = chase;
    for (int k = 0; k < 4; k++) p = (uintptr_t *)*p;
    if (p == NULL) abort();
}

static inline uintptr_t add_chain(uintptr_t a) {
    for (int k = 0; k < 16; k++) __asm__ volatile("add %1, %0" : "+r"(a) : "r"((uintptr_t)k));
    return a;
}

static inline void branches(void) {
    uintptr_t v = branch_input;
#pragma GCC unroll 8
    for (uintptr_t k = 0; k < 8; k++)
        if (__builtin_expect(v == 1000 + k, 0)) abort();
}

static double run(int kind) {
    volatile uintptr_t *tls = &tls_words[8];
    uintptr_t acc = 0;
    double t = thread_cpu_ns();
    for (int i = 0; i < PAIRS; i++) {
        switch (kind) {
        case 0: sem_wait(sem); sem_post(sem); break;
        case 1:
            if (mp_sem_undo_acquire(undo, true, MP_FOREVER) != MP_OK || mp_sem_undo_release(undo) != MP_OK)
                abort();
            break;
        case 2: take(); give(); break;
        case 3:
            *pending = (uintptr_t)same_line; *tls = 1;
            take();
            *same_line = 1; *heap_word = 1; *pending = 0;
            *other_line = 2;
            give();
            *tls = 2;
            break;
        case 4: chase_links(); take(); chase_links(); give(); break;
        case 5: acc = add_chain(acc); take(); acc = add_chain(acc); give(); break;
        case 6: branches(); take(); branches(); give(); break;
        default: break;
        }
        __asm__ volatile("" ::: "memory");
    }
    if (acc == 1) abort();
    return (thread_cpu_ns() - t) / PAIRS;
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 10;
    int cpu = argc > 2 ? atoi(argv[2]) : 0;
    pin_to_cpu(cpu);
    char *shm = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shm == MAP_FAILED) return 1;
    word = (volatile uint32_t *)(shm + 64 * 5);
    same_line = (volatile uintptr_t *)(shm + 64 * 5 + 32);
    other_line = (volatile uintptr_t *)(shm + 64 * 9);
    sem = (sem_t *)(shm + 4096);
    if (sem_init(sem, 1, 1) != 0) return 1;
    heap_word = calloc(64, sizeof(uintptr_t));
    static uintptr_t links[5][8];
    for (int k = 0; k < 4; k++) links[k][0] = (uintptr_t)&links[k + 1][0];
    links[4][0] = 1;
    chase = &links[0][0];
    struct robust_head *head = NULL;
    size_t len = 0;
    if (syscall(SYS_get_robust_list, 0, &head, &len) != 0 || head == NULL) return 1;
    pending = &head->pending;
    tid = (uint32_t)syscall(SYS_gettid);
    if (mp_sem_undo_new(1, 1, &undo) != MP_OK) return 1;
    static const char *names[] = {"sem_t", "undo", "atomics", "+stores", "+loads", "+alu",
                                  "+branches"};
    printf("round");
    for (int k = 0; k < 7; k++) printf("\t%s", names[k]);
    printf("\t(ns per pair)\n");
    for (int r = 0; r < rounds; r++) {
        printf("%d", r);
        for (int k = 0; k < 7; k++) printf("\t%.2f", run(k));
        printf("\n");
        fflush(stdout);
    }
    mp_sem_undo_close(undo);
    return 0;
}
