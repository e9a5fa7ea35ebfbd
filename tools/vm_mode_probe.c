/*
 * What this machine's "slow mode" takes away (issue 26; BENCHMARKS.md, "Undo semaphore:
 * the machine's two modes"). One thread pinned to a CPU takes a sample every ~20 ms of
 *   thru  8 independent add/xor chains per step: bound by how many instructions the core
 *         issues per cycle (what a busy SMT sibling on the host shares with us);
 *   lat   4 dependent imuls per step: bound by the core clock alone;
 *   atom  one `lock xadd` on a private line: the latency of an atomic instruction;
 *   semt  sem_wait + sem_post of a process-shared sem_t;
 *   undo  mp_sem_undo acquire + release;
 * all in ns of thread CPU time, one line per sample, then a summary per mode (a sample is
 * "fast" when its thru is within 20 % of the fastest one seen). Build and run:
 *
 *   cargo build --release
 *   cc -O2 -Iinclude tools/vm_mode_probe.c -Ltarget/release -lmpsync \
 *      -Wl,-rpath,$PWD/target/release -pthread -o target/vm_mode_probe
 *   target/vm_mode_probe 10        # seconds (default 10), CPU (default 0)
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
#include <time.h>

#define STEPS 2000000
#define MAX_SAMPLES 100000

static double wall_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

__attribute__((noinline)) static double thru_ns(void) {
    uint64_t a = 1, b = 2, c = 3, d = 4, e = 5, f = 6, g = 7, h = 8;
    double t0 = thread_cpu_ns();
    for (uint64_t i = 0; i < STEPS; i++)
        __asm__ volatile("add %8,%0\n\txor %8,%1\n\tadd %8,%2\n\txor %8,%3\n\t"
                         "add %8,%4\n\txor %8,%5\n\tadd %8,%6\n\txor %8,%7"
                         : "+r"(a), "+r"(b), "+r"(c), "+r"(d), "+r"(e), "+r"(f), "+r"(g), "+r"(h)
                         : "r"(i));
    return (thread_cpu_ns() - t0) / STEPS;
}

__attribute__((noinline)) static double lat_ns(void) {
    uint64_t x = 3;
    double t0 = thread_cpu_ns();
    for (int i = 0; i < STEPS; i++)
        __asm__ volatile("imul %0,%0\n\timul %0,%0\n\timul %0,%0\n\timul %0,%0" : "+r"(x));
    return (thread_cpu_ns() - t0) / STEPS;
}

static _Alignas(64) uint64_t private_line;

__attribute__((noinline)) static double atom_ns(void) {
    uint64_t v = 1;
    double t0 = thread_cpu_ns();
    for (int i = 0; i < STEPS / 4; i++) __asm__ volatile("lock xadd %0,%1" : "+r"(v), "+m"(private_line));
    return (thread_cpu_ns() - t0) / (STEPS / 4);
}

struct sample { double thru, lat, atom, semt, undo; };
static struct sample samples[MAX_SAMPLES];

static void summary(const char *mode, int fast, double fastest, int n) {
    struct sample sum = {0};
    int k = 0;
    for (int i = 0; i < n; i++) {
        if ((samples[i].thru <= fastest * 1.2) != fast) continue;
        sum.thru += samples[i].thru, sum.lat += samples[i].lat, sum.atom += samples[i].atom;
        sum.semt += samples[i].semt, sum.undo += samples[i].undo, k++;
    }
    if (k == 0) { printf("# %s mode: no sample\n", mode); return; }
    printf("# %s mode: %d of %d samples; means: thru %.2f lat %.2f atom %.2f semt %.2f undo %.2f; "
           "undo/semt %.2f\n", mode, k, n, sum.thru / k, sum.lat / k, sum.atom / k, sum.semt / k,
           sum.undo / k, sum.undo / sum.semt);
}

int main(int argc, char **argv) {
    double secs = argc > 1 ? atof(argv[1]) : 10;
    pin_to_cpu(argc > 2 ? atoi(argv[2]) : 0);
    sem_t *s = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    mp_sem_undo_t *u;
    if (s == MAP_FAILED || sem_init(s, 1, 1) != 0 || mp_sem_undo_new(1, 1, &u) != MP_OK) {
        fprintf(stderr, "vm_mode_probe: setup failed\n");
        return 1;
    }
    printf("t\tthru\tlat\tatom\tsemt\tundo\tundo/semt\n");
    double start = wall_now(), fastest = 1e9;
    int n = 0;
    while (n < MAX_SAMPLES && wall_now() - start < secs) {
        struct sample *x = &samples[n++];
        x->thru = thru_ns(), x->lat = lat_ns(), x->atom = atom_ns();
        double t0 = thread_cpu_ns();
        for (int i = 0; i < STEPS / 8; i++)
            if (sem_wait(s) != 0 || sem_post(s) != 0) abort();
        x->semt = (thread_cpu_ns() - t0) / (STEPS / 8);
        t0 = thread_cpu_ns();
        for (int i = 0; i < STEPS / 8; i++)
            if (mp_sem_undo_acquire(u, true, MP_FOREVER) != MP_OK || mp_sem_undo_release(u) != MP_OK)
                abort();
        x->undo = (thread_cpu_ns() - t0) / (STEPS / 8);
        if (x->thru < fastest) fastest = x->thru;
        printf("%.2f\t%.3f\t%.3f\t%.2f\t%.2f\t%.2f\t%.2f\n", wall_now() - start, x->thru, x->lat,
               x->atom, x->semt, x->undo, x->undo / x->semt);
    }
    summary("fast", 1, fastest, n);
    summary("slow", 0, fastest, n);
    mp_sem_undo_close(u);
    return 0;
}
