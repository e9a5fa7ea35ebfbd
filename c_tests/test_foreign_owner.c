/* Objects planted by another user (issue 9, defect 3). An existing object whose file is
 * owned by another user than the caller's effective uid is refused with MP_EACCES,
 * root included, with 0 and with MP_CREATE, unless the caller passes MP_ANY_OWNER:
 * whoever created the name can rewrite the object's memory, lock words included. */
#include "mpt_util.h"
#include <grp.h>

#define EXIT_SKIP 77

enum { LOCK, RLOCK, SEM, COND, EVENT, BARRIER, ARRAY, SHM, NKINDS };
static const char *tags[NKINDS] = {"lock", "rlock", "sem", "cond", "event", "barrier", "array", "shm"};

/* Opens (or creates) kind k under `name`; on success proves it is usable and closes it. */
static mp_status open_kind(int k, const char *name, uint32_t flags, uint32_t mode) {
    void *h = NULL;
    mp_status st;
    switch (k) {
    case LOCK: st = mp_lock_open(name, flags, mode, (mp_lock_t **)&h); break;
    case RLOCK: st = mp_rlock_open(name, flags, mode, (mp_rlock_t **)&h); break;
    case SEM: st = mp_sem_open(name, flags, mode, 1, 1, (mp_sem_t **)&h); break;
    case COND: st = mp_cond_open(name, flags, mode, (mp_cond_t **)&h); break;
    case EVENT: st = mp_event_open(name, flags, mode, (mp_event_t **)&h); break;
    case BARRIER: st = mp_barrier_open(name, flags, mode, 2, (mp_barrier_t **)&h); break;
    case ARRAY: st = mp_array_open(name, flags, mode, MP_TYPE_INT, 8, true, (mp_array_t **)&h); break;
    default: st = mp_shm_open(name, flags, 4096, mode, (mp_shm_t **)&h); break;
    }
    if (st != MP_OK) {
        CHECK(h == NULL);
        return st;
    }
    switch (k) {
    case LOCK: CHECK_OK(mp_lock_acquire(h, false, 0)); CHECK_OK(mp_lock_release(h)); CHECK_OK(mp_lock_close(h)); break;
    case RLOCK: CHECK_OK(mp_rlock_acquire(h, false, 0)); CHECK_OK(mp_rlock_release(h)); CHECK_OK(mp_rlock_close(h)); break;
    case SEM: CHECK_OK(mp_sem_acquire(h, false, 0)); CHECK_OK(mp_sem_release(h)); CHECK_OK(mp_sem_close(h)); break;
    case COND: CHECK_OK(mp_cond_notify_all(h)); CHECK_OK(mp_cond_close(h)); break;
    case EVENT: CHECK_OK(mp_event_set(h)); CHECK_OK(mp_event_clear(h)); CHECK_OK(mp_event_close(h)); break;
    case BARRIER: CHECK_OK(mp_barrier_close(h)); break;
    case ARRAY: { int x = 1; CHECK_OK(mp_array_set(h, 0, &x)); CHECK_OK(mp_array_close(h)); break; }
    default: CHECK(mp_shm_size(h) == 4096); CHECK_OK(mp_shm_close(h)); break;
    }
    return MP_OK;
}

static char names[NKINDS][64];

/* As uid/gid 65534 ("nobody"): plants every kind under its name, mode 0666. */
static int plant_as_nobody(void *arg) {
    (void)arg;
    if (setgroups(0, NULL) != 0 || setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0 ||
        geteuid() != 65534)
        return EXIT_SKIP;
    for (int k = 0; k < NKINDS; k++) CHECK_OK(open_kind(k, names[k], MP_CREATE | MP_EXCL, 0666));
    return 0;
}

static int check_planted(void *arg);

TEST(objects_planted_by_another_user_need_any_owner) {
    if (geteuid() != 0) {
        fprintf(stderr, "objects_planted_by_another_user_need_any_owner: not root, cannot switch users; skipped\n");
        return;
    }
    for (int k = 0; k < NKINDS; k++) {
        char tag[32];
        snprintf(tag, sizeof tag, "planted-%s", tags[k]);
        mpt_name(names[k], sizeof names[k], tag);
        mp_unlink(names[k]);
    }
    pid_t pid = mpt_fork(plant_as_nobody, NULL);
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    if (WIFEXITED(st) && WEXITSTATUS(st) == EXIT_SKIP) {
        fprintf(stderr, "objects_planted_by_another_user_need_any_owner: cannot become uid 65534 here; skipped\n");
        return;
    }
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* The checks run in a child, so that the planted names go even if one fails. */
    pid_t checker = mpt_fork(check_planted, NULL);
    CHECK(waitpid(checker, &st, 0) == checker);
    for (int k = 0; k < NKINDS; k++) mp_unlink(names[k]);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static int check_planted(void *arg) {
    (void)arg;
    for (int k = 0; k < NKINDS; k++) {
        struct stat sb;
        char path[600];
        snprintf(path, sizeof path, "/dev/shm%s", names[k]);
        CHECK(stat(path, &sb) == 0 && sb.st_uid == 65534 && (sb.st_mode & 0777) == 0666);
        /* Root, that could read and write it, is refused without the flag. */
        CHECK_ST(open_kind(k, names[k], MP_CREATE, 0), MP_EACCES);
        CHECK_ST(open_kind(k, names[k], 0, 0), MP_EACCES);
        CHECK_ST(open_kind(k, names[k], MP_CREATE | MP_EXCL, 0), MP_EEXIST);
        /* ... and accepted with it. */
        CHECK_OK(open_kind(k, names[k], MP_ANY_OWNER, 0));
        CHECK_OK(open_kind(k, names[k], MP_CREATE | MP_ANY_OWNER, 0));
        CHECK_OK(mp_unlink(names[k]));
        /* Its own objects need no flag. */
        CHECK_OK(open_kind(k, names[k], MP_CREATE, 0));
        CHECK_OK(open_kind(k, names[k], 0, 0));
        CHECK_OK(mp_unlink(names[k]));
    }
    return 0;
}

/* The flag is an ordinary flag bit: MP_EXCL alone stays invalid with it. */
TEST(any_owner_flag_rules) {
    char name[64];
    mpt_name(name, sizeof name, "anyowner-flags");
    mp_lock_t *l = NULL;
    CHECK_ST(mp_lock_open(name, MP_EXCL | MP_ANY_OWNER, 0, &l), MP_EINVAL);
    CHECK_ST(mp_lock_open(name, MP_ANY_OWNER, 0, &l), MP_ENOENT);
    CHECK_OK(mp_lock_open(name, MP_CREATE | MP_EXCL | MP_ANY_OWNER, 0, &l));
    CHECK_OK(mp_lock_close(l));
    CHECK_OK(mp_unlink(name));
}
