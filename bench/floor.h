/* The floor: the cheapest real futex lock on a shared 32-bit word.
 *
 * Acquire is one compare-and-swap 0 -> 1; release is one atomic exchange -> 0 whose
 * result tells whether anyone sleeps (2 = "locked, maybe waiters"), in which case it
 * issues one FUTEX_WAKE. Contended acquirers swap in 2 and FUTEX_WAIT on 2 (Drepper,
 * "Futexes Are Tricky", mutex #3). Shared futexes (no FUTEX_PRIVATE_FLAG), no
 * spinning, no timeouts, no owner, no validation: anything a library adds on top of
 * this is overhead measured against it.
 *
 * Word states: 0 free; 1 held, nobody sleeps; 2 held, sleepers possible.
 *
 * libmpfloor.so (floor.c) exports mpfloor_lock/mpfloor_unlock so that the "floor"
 * row pays the same cross-library call as libmpsync and libc do; the *_inline
 * versions below are the same code inlined into the caller (an informational row). */
#ifndef MPBENCH_FLOOR_H
#define MPBENCH_FLOOR_H

#include <stdint.h>
#include <stdbool.h>

void mpfloor_lock(uint32_t *w);
void mpfloor_unlock(uint32_t *w);
/* Out-of-line slow paths (in libmpfloor.so). */
void mpfloor_lock_slow(uint32_t *w);
void mpfloor_wake(uint32_t *w);

static inline __attribute__((always_inline)) void mpfloor_lock_inline(uint32_t *w) {
    uint32_t expected = 0;
    if (__builtin_expect(__atomic_compare_exchange_n(w, &expected, 1, false, __ATOMIC_ACQUIRE,
                                                     __ATOMIC_RELAXED), 1))
        return;
    mpfloor_lock_slow(w);
}

static inline __attribute__((always_inline)) void mpfloor_unlock_inline(uint32_t *w) {
    if (__builtin_expect(__atomic_exchange_n(w, 0, __ATOMIC_RELEASE) == 2, 0))
        mpfloor_wake(w);
}

#endif
