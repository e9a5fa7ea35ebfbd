/* Smoke test of the harness itself and of each primitive's basic path. */
#include "mptest.h"
#include <sys/time.h>

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

static void on_alarm(int sig) { (void)sig; }

/* The contract: a blocking call interrupted by a signal handler returns MP_EINTR with
 * nothing acquired, even when the handler was installed with SA_RESTART (which would
 * make the kernel restart an untimed futex wait silently). */
TEST(eintr_even_with_sa_restart_handlers) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
    mp_lock_t *l;
    mp_rlock_t *r;
    mp_sem_t *s;
    CHECK_OK(mp_lock_new(&l));
    CHECK_OK(mp_rlock_new(&r));
    CHECK_OK(mp_sem_new(0, 1, &s));
    CHECK_OK(mp_lock_acquire(l, true, MP_FOREVER));
    pid_t holder = fork();
    if (holder == 0) {
        if (mp_rlock_acquire(r, true, MP_FOREVER) != MP_OK) _exit(1);
        pause();
        _exit(0);
    }
    usleep(50000);
    struct itimerval it = {{0, 0}, {0, 100000}};
    CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
    CHECK_ST(mp_lock_acquire(l, true, MP_FOREVER), MP_EINTR);
    CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
    CHECK_ST(mp_rlock_acquire(r, true, MP_FOREVER), MP_EINTR);
    CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
    CHECK_ST(mp_sem_acquire(s, true, MP_FOREVER), MP_EINTR);
    uint32_t v = 9, n = 9;
    CHECK_OK(mp_sem_get_value(s, &v));
    CHECK_OK(mp_rlock_count(r, &n));
    CHECK(v == 0 && n == 0);
    kill(holder, SIGKILL);
    waitpid(holder, NULL, 0);
}
