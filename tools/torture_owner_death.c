/*
 * Owner-death torture: the test suite's kill loop (c_tests/kill_loop.h), run for as long
 * as you like. Build and run (after `cargo build --release`):
 *
 *   cc -O2 -Iinclude -Ic_tests tools/torture_owner_death.c -Ltarget/release -lmpsync \
 *      -Wl,-rpath,$PWD/target/release -o target/torture && target/torture 100000 3
 *
 * Arguments: number of kills (default 100000), contender processes (default 3).
 */
#include "kill_loop.h"

int main(int argc, char **argv) {
    long kills = argc > 1 ? atol(argv[1]) : 100000;
    int contenders = argc > 2 ? atoi(argv[2]) : 3;
    long done = 0, holding = 0, idle = 0, ambiguous = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (done < kills) {
        long chunk = kills - done < 10000 ? kills - done : 10000;
        struct kl_result r = kl_run(chunk, contenders, (unsigned)(done + getpid()));
        done += r.kills;
        holding += r.killed_holding;
        idle += r.killed_idle;
        ambiguous += r.killed_ambiguous;
        if (r.failures) {
            printf("FAILED after %ld kills: %s\n", done, r.failure);
            return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        printf("%ld kills (holding %ld, idle %ld, inside acquire/release %ld), %.1f s\n", done, holding, idle,
               ambiguous, (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
        fflush(stdout);
    }
    printf("OK: %ld kills, no deadlock, mutual exclusion held, MP_OWNER_DEAD exactly when the victim held the lock\n",
           done);
    return 0;
}
