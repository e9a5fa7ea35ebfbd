/* fork() at any moment (issue 9, defect 5). A child forked while another thread was
 * inside mp_lock_new / mp_*_close spun forever in the process-wide mapping registry: the
 * fork handlers were registered only once some thread had used an RLock. Now they are
 * registered before the registry is first used, and hold it across fork(), so every
 * child gets a consistent, unlocked registry. The parent here never touches an RLock. */
#include "mpt_util.h"

static atomic_int stop_churn;
static atomic_long churned;

/* Creates and closes objects of several kinds as fast as it can. */
static void *churn(void *arg) {
    (void)arg;
    while (!atomic_load(&stop_churn)) {
        mp_lock_t *l;
        mp_sem_t *s;
        mp_array_t *a;
        if (mp_lock_new(&l) == MP_OK) mp_lock_close(l);
        if (mp_sem_new(1, 1, &s) == MP_OK) mp_sem_close(s);
        if (mp_array_new(MP_TYPE_INT, 8, false, &a) == MP_OK) mp_array_close(a);
        atomic_fetch_add(&churned, 1);
    }
    return NULL;
}

/* What every child must be able to do at once: use and close what it inherited (its
 * registry knows it: test_handles.c checks that it closes only once), create, use and
 * close new objects. */
static int child_body(mp_lock_t *inherited, mp_array_t *inherited_array) {
    CHECK_OK(mp_lock_acquire(inherited, false, 0));
    CHECK_OK(mp_lock_release(inherited));
    CHECK_OK(mp_lock_close(inherited));
    CHECK(mp_array_len(inherited_array) == 4);
    CHECK_OK(mp_array_close(inherited_array));
    mp_lock_t *l;
    CHECK_OK(mp_lock_new(&l));
    CHECK_OK(mp_lock_acquire(l, false, 0));
    CHECK_OK(mp_lock_release(l));
    CHECK_OK(mp_lock_close(l));
    mp_rlock_t *r; /* the child's own thread identity (the parent never had one) */
    CHECK_OK(mp_rlock_new(&r));
    CHECK_OK(mp_rlock_acquire(r, false, 0));
    CHECK_OK(mp_rlock_release(r));
    CHECK_OK(mp_rlock_close(r));
    mp_shm_t *s;
    CHECK_OK(mp_shm_open(NULL, MP_CREATE, 64, 0, &s));
    CHECK_OK(mp_unlink(mp_shm_name(s)));
    CHECK_OK(mp_shm_close(s));
    return 0;
}

/* Waits up to `secs` for `pid`; a child still running then hung: fail, naming it. */
static void wait_child_within(pid_t pid, int secs, int round) {
    int64_t end = mpt_now_ns() + (int64_t)secs * 1000000000LL;
    int st = 0;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) break;
        CHECK(r == 0);
        if (mpt_now_ns() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            fprintf(stderr, "child of fork #%d hung for more than %d s (registry left locked?)\n", round, secs);
            _exit(1);
        }
        usleep(200);
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "child of fork #%d failed: %s %d\n", round, WIFEXITED(st) ? "exit" : "signal",
                WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        _exit(1);
    }
}

TEST(fork_while_another_thread_creates_and_closes) {
    enum { FORKS = 2000 };
    mp_lock_t *inherited;
    mp_array_t *arr;
    CHECK_OK(mp_lock_new(&inherited));
    CHECK_OK(mp_array_new(MP_TYPE_INT, 4, false, &arr));
    pthread_t t[2];
    for (int i = 0; i < 2; i++) CHECK(pthread_create(&t[i], NULL, churn, NULL) == 0);
    for (int i = 0; i < FORKS; i++) {
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) _exit(child_body(inherited, arr));
        wait_child_within(pid, 10, i);
    }
    atomic_store(&stop_churn, 1);
    for (int i = 0; i < 2; i++) CHECK(pthread_join(t[i], NULL) == 0);
    fprintf(stderr, "%d forks while %ld create/close rounds ran\n", FORKS, atomic_load(&churned));
    CHECK_OK(mp_lock_close(inherited));
    CHECK_OK(mp_array_close(arr));
}

struct forker { mp_lock_t *inherited; mp_array_t *arr; int forks; };

static void *fork_loop(void *arg) {
    struct forker *f = arg;
    for (int i = 0; i < f->forks; i++) {
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) _exit(child_body(f->inherited, f->arr));
        wait_child_within(pid, 10, i);
    }
    return NULL;
}

/* The same with fork() called by a second thread while the main thread churns too. */
TEST(fork_from_a_second_thread_while_others_churn) {
    struct forker f = {NULL, NULL, 500};
    CHECK_OK(mp_lock_new(&f.inherited));
    CHECK_OK(mp_array_new(MP_TYPE_INT, 4, false, &f.arr));
    pthread_t churner, forker;
    CHECK(pthread_create(&churner, NULL, churn, NULL) == 0);
    CHECK(pthread_create(&forker, NULL, fork_loop, &f) == 0);
    while (pthread_tryjoin_np(forker, NULL) != 0) {
        mp_sem_t *s;
        if (mp_sem_new(0, 1, &s) == MP_OK) CHECK_OK(mp_sem_close(s));
    }
    atomic_store(&stop_churn, 1);
    CHECK(pthread_join(churner, NULL) == 0);
    CHECK_OK(mp_lock_close(f.inherited));
    CHECK_OK(mp_array_close(f.arr));
}
