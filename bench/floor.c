/* libmpfloor.so: the floor lock of floor.h as an out-of-line library. */
#define _GNU_SOURCE
#include "floor.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

void mpfloor_lock_slow(uint32_t *w) {
    /* Mark contended; if it was free we now own it (and may cause one spurious wake). */
    while (__atomic_exchange_n(w, 2, __ATOMIC_ACQUIRE) != 0)
        syscall(SYS_futex, w, FUTEX_WAIT, 2, NULL, NULL, 0);
}

void mpfloor_wake(uint32_t *w) { syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0); }

void mpfloor_lock(uint32_t *w) { mpfloor_lock_inline(w); }

void mpfloor_unlock(uint32_t *w) { mpfloor_unlock_inline(w); }
