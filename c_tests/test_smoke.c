/* Smoke test of the harness itself and of each primitive's basic path. */
#include "mptest.h"

TEST(lock_basic) {
    mp_lock_t *l;
    CHECK_OK(mp_lock_new(&l));
    CHECK_OK(mp_lock_acquire(l, true, MP_FOREVER));
    CHECK_ST(mp_lock_acquire(l, false, 0), MP_TIMEOUT);
    CHECK_OK(mp_lock_release(l));
    CHECK_ST(mp_lock_release(l), MP_EOVERFLOW);
    CHECK_OK(mp_lock_close(l));
}

TEST(rlock_basic) {
    mp_rlock_t *l;
    uint32_t n = 99;
    CHECK_OK(mp_rlock_new(&l));
    CHECK_OK(mp_rlock_acquire(l, true, MP_FOREVER));
    CHECK_OK(mp_rlock_acquire(l, true, MP_FOREVER));
    CHECK_OK(mp_rlock_count(l, &n));
    CHECK(n == 2);
    CHECK_OK(mp_rlock_release(l));
    CHECK_OK(mp_rlock_release(l));
    CHECK_ST(mp_rlock_release(l), MP_ENOTOWNER);
    CHECK_OK(mp_rlock_close(l));
}

TEST(sem_basic) {
    mp_sem_t *s;
    uint32_t v;
    CHECK_OK(mp_sem_new(1, 1, &s));
    CHECK_OK(mp_sem_acquire(s, true, 100));
    CHECK_ST(mp_sem_acquire(s, true, 10), MP_TIMEOUT);
    CHECK_OK(mp_sem_release(s));
    CHECK_ST(mp_sem_release(s), MP_EOVERFLOW);
    CHECK_OK(mp_sem_get_value(s, &v));
    CHECK(v == 1);
    CHECK_OK(mp_sem_close(s));
}
