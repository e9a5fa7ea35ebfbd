/*
 * queue_instr.c — instructions per uncontended put + get (+ task_done) of a 64-byte
 * message in one process, for callgrind: the stable figure of the queue's fast path
 * (BENCHMARKS.md, "Queue"). Run it twice and take the difference, so that start-up
 * cancels out:
 *     cargo build --release --lib
 *     cc -O2 -I include bench/queue_instr.c -o target/queue_instr -L target/release \
 *        -Wl,-rpath,$PWD/target/release -lmpsync
 *     valgrind --tool=callgrind --callgrind-out-file=/dev/null target/queue_instr 1000 [done]
 *     valgrind --tool=callgrind --callgrind-out-file=/dev/null target/queue_instr 21000 [done]
 *     -> (Ir(21000) - Ir(1000)) / 20000 per iteration
 * With a second argument, every iteration also calls mp_queue_task_done.
 */
#include "mpsync.h"
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000;
    int task_done = argc > 2;
    mp_queue_t *q = NULL;
    if (mp_queue_new(1 << 16, &q) != MP_OK) return 1;
    char msg[64], buf[64];
    memset(msg, 7, sizeof msg);
    size_t len = 0;
    for (long i = 0; i < n; i++) {
        if (mp_queue_put(q, msg, sizeof msg, false, 0) != MP_OK) return 2;
        if (mp_queue_get(q, buf, sizeof buf, &len, false, 0) != MP_OK) return 3;
        if (task_done && mp_queue_task_done(q) != MP_OK) return 4;
    }
    return mp_queue_close(q) == MP_OK ? 0 : 5;
}
