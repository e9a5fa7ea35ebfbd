/* Named Lock / RLock / Semaphore objects through the public header: mp_*_open flags,
 * mp_unlink, permission bits, other types and foreign files under the name, and use by
 * UNRELATED processes (this program exec'ed again, see mpt_child) that find the object
 * by name, contend on it with exact counts, and race to create it. */
#define MPT_CHILD_MAIN
#include "mpt_util.h"
#include <dirent.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/un.h>

/* The shared data file every participant maps (each at its own address). */
struct data {
    mp_lock_t lock;      /* in-place objects for the "inplace" mode */
    mp_rlock_t rlock;
    mp_sem_t sem;
    volatile long counter;
    volatile int inside;
    volatile int violations;
    int in_flight;       /* atomic */
    int max_in_flight;   /* atomic */
    uint32_t seen_max[16];
    int opened[16];
};

/* ---- object helpers ----------------------------------------------------------- */

static mp_status open_obj(struct mpt_obj *o, enum mpt_kind k, const char *name, uint32_t flags,
                          uint32_t mode, uint32_t v, uint32_t max) {
    o->kind = k;
    switch (k) {
    case MPT_LOCK: return mp_lock_open(name, flags, mode, (mp_lock_t **)&o->p);
    case MPT_RLOCK: return mp_rlock_open(name, flags, mode, (mp_rlock_t **)&o->p);
    default: return mp_sem_open(name, flags, mode, v, max, (mp_sem_t **)&o->p);
    }
}

/* The contention loop: k == 1 (Lock, RLock, Semaphore(1)): "inside" flag and a
 * non-atomic increment; k > 1 (Semaphore(k)): at most k inside, counted atomically. */
static void contend(struct mpt_obj *o, struct data *d, int id, long iters, int k) {
    for (long i = 0; i < iters; i++) {
        CHECK_OK(mpt_acquire(o, true, i % 2 ? MP_FOREVER : 600000));
        int now = __atomic_add_fetch(&d->in_flight, 1, __ATOMIC_SEQ_CST);
        int m = __atomic_load_n(&d->max_in_flight, __ATOMIC_SEQ_CST);
        while (now > m && !__atomic_compare_exchange_n(&d->max_in_flight, &m, now, false, __ATOMIC_SEQ_CST,
                                                       __ATOMIC_SEQ_CST)) {}
        if (k == 1) {
            if (d->inside) d->violations++;
            d->inside = id;
            long v = d->counter;
            if ((i & 511) == 0) sched_yield();
            d->counter = v + 1;
            if (d->inside != id) d->violations++;
            d->inside = 0;
        } else {
            __atomic_add_fetch(&d->counter, 1, __ATOMIC_SEQ_CST);
            if ((i & 15) == 0) sched_yield();
        }
        __atomic_sub_fetch(&d->in_flight, 1, __ATOMIC_SEQ_CST);
        CHECK_OK(mpt_release(o));
    }
}

/* ---- the exec'ed child ---------------------------------------------------------- */

/* argv: how kind name datafile iters k gate_rd ready_wr go_rd idx
 *   how = create (MP_CREATE; a Semaphore gets value k and max k + idx),
 *         open (flags 0), inplace (the object inside the data file). */
static int mpt_child(int argc, char **argv) {
    CHECK(argc == 10);
    const char *how = argv[0];
    enum mpt_kind k = (enum mpt_kind)atoi(argv[1]);
    const char *name = argv[2];
    long iters = atol(argv[4]);
    int kk = atoi(argv[5]);
    int gate_rd = atoi(argv[6]), ready_wr = atoi(argv[7]), go_rd = atoi(argv[8]);
    int idx = atoi(argv[9]);
    struct data *d = mpt_map_file(argv[3], sizeof(struct data), 0);
    if (gate_rd >= 0) mpt_gate_wait_fd(gate_rd, -1);
    struct mpt_obj o;
    if (strcmp(how, "inplace") == 0) {
        o.kind = k;
        o.p = k == MPT_LOCK ? (void *)&d->lock : k == MPT_RLOCK ? (void *)&d->rlock : (void *)&d->sem;
    } else {
        uint32_t flags = strcmp(how, "create") == 0 ? MP_CREATE : 0;
        CHECK_OK(open_obj(&o, k, name, flags, 0, (uint32_t)kk, (uint32_t)(kk + idx)));
    }
    d->opened[idx] = 1;
    if (k == MPT_SEM) CHECK_OK(mp_sem_get_max_value(o.p, &d->seen_max[idx]));
    if (ready_wr >= 0) CHECK(write(ready_wr, "r", 1) == 1);
    if (go_rd >= 0) mpt_gate_wait_fd(go_rd, -1);
    contend(&o, d, idx + 1, iters, kk);
    if (strcmp(how, "inplace") != 0) CHECK_OK(mpt_close(&o));
    return 0;
}

static pid_t spawn(const char *how, enum mpt_kind k, const char *name, const char *datafile, long iters, int kk,
                   int gate_rd, int ready_wr, int go_rd, int idx) {
    char a[8][32];
    snprintf(a[0], 32, "%d", (int)k);
    snprintf(a[1], 32, "%ld", iters);
    snprintf(a[2], 32, "%d", kk);
    snprintf(a[3], 32, "%d", gate_rd);
    snprintf(a[4], 32, "%d", ready_wr);
    snprintf(a[5], 32, "%d", go_rd);
    snprintf(a[6], 32, "%d", idx);
    const char *args[] = {how, a[0], name, datafile, a[1], a[2], a[3], a[4], a[5], a[6], NULL};
    return mpt_spawn_child(args);
}

/* No temporary creation files of these processes are left in /dev/shm. */
static void check_no_temp_files(const pid_t *pids, int n) {
    DIR *dir = opendir("/dev/shm");
    CHECK(dir != NULL);
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        for (int i = 0; i < n; i++) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, ".mpsync-tmp-%d-", (int)pids[i]);
            if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
                fprintf(stderr, "left behind: /dev/shm/%s\n", e->d_name);
                _exit(1);
            }
        }
    }
    closedir(dir);
}

/* ---- open flags, unlink ----------------------------------------------------------- */

/* flags 0 on a missing name -> MP_ENOENT; MP_CREATE|MP_EXCL creates, and again ->
 * MP_EEXIST; MP_CREATE and 0 open the same object; mp_unlink removes the name (then
 * MP_ENOENT again) while open handles keep working; a new MP_CREATE makes a new object. */
static void open_flags(enum mpt_kind k) {
    char name[64];
    mpt_name(name, sizeof name, mpt_kind_name(k));
    struct mpt_obj a, b, c, d, e;
    a.p = (void *)(uintptr_t)0x42;
    CHECK_ST(open_obj(&a, k, name, 0, 0, 1, 1), MP_ENOENT);
    CHECK(a.p == (void *)(uintptr_t)0x42);
    CHECK(!mpt_file_exists(name));
    CHECK_OK(open_obj(&a, k, name, MP_CREATE | MP_EXCL, 0, 1, 1));
    CHECK(mpt_file_exists(name));
    b.p = (void *)(uintptr_t)0x42;
    CHECK_ST(open_obj(&b, k, name, MP_CREATE | MP_EXCL, 0, 1, 1), MP_EEXIST);
    CHECK(b.p == (void *)(uintptr_t)0x42);
    CHECK_OK(open_obj(&b, k, name, MP_CREATE, 0, 1, 1));
    CHECK_OK(open_obj(&c, k, name, 0, 0, 1, 1));
    CHECK(a.p != b.p && b.p != c.p);
    /* One object: held through a, busy through b and c. */
    CHECK_OK(mpt_acquire(&a, false, 0));
    if (k != MPT_RLOCK) { /* (an RLock re-enters for its owner thread) */
        CHECK_ST(mpt_acquire(&b, false, 0), MP_TIMEOUT);
        CHECK_ST(mpt_acquire(&c, false, 0), MP_TIMEOUT);
        CHECK_OK(mpt_release(&c)); /* Lock/Semaphore: anyone may release */
    } else {
        uint32_t n = 0;
        CHECK_OK(mp_rlock_count(c.p, &n));
        CHECK(n == 1);
        CHECK_OK(mpt_release(&c));
    }
    CHECK_OK(mpt_acquire(&b, false, 0));
    CHECK_OK(mpt_release(&b));
    /* unlink: the name goes, the object stays for those who have it */
    CHECK_OK(mp_unlink(name));
    CHECK(!mpt_file_exists(name));
    CHECK_ST(mp_unlink(name), MP_ENOENT);
    CHECK_ST(open_obj(&d, k, name, 0, 0, 1, 1), MP_ENOENT);
    CHECK_OK(mpt_acquire(&a, false, 0));
    CHECK_ST(mpt_acquire(&b, false, 0), k == MPT_RLOCK ? MP_OK : MP_TIMEOUT);
    if (k == MPT_RLOCK) CHECK_OK(mpt_release(&b));
    /* a new object under the same name is independent of the old one */
    CHECK_OK(open_obj(&d, k, name, MP_CREATE | MP_EXCL, 0, 1, 1));
    CHECK_OK(mpt_acquire(&d, false, 0));
    CHECK_OK(mpt_release(&d));
    CHECK_OK(open_obj(&e, k, name, 0, 0, 1, 1));
    CHECK_OK(mpt_acquire(&e, false, 0));
    CHECK_ST(mpt_acquire(&d, false, 0), k == MPT_RLOCK ? MP_OK : MP_TIMEOUT);
    if (k == MPT_RLOCK) CHECK_OK(mpt_release(&d));
    CHECK_OK(mpt_release(&e));
    CHECK_OK(mpt_release(&a));
    CHECK_OK(mpt_close(&a));
    CHECK_OK(mpt_close(&b));
    CHECK_OK(mpt_close(&c));
    CHECK_OK(mpt_close(&d));
    CHECK_OK(mpt_close(&e));
    /* Closing every handle does not remove the name. */
    CHECK(mpt_file_exists(name));
    CHECK_OK(mp_unlink(name));
}

TEST(named_lock_open_flags_and_unlink) { open_flags(MPT_LOCK); }
TEST(named_rlock_open_flags_and_unlink) { open_flags(MPT_RLOCK); }
TEST(named_sem_open_flags_and_unlink) { open_flags(MPT_SEM); }

/* The object's state lives under the name: a Lock left held by a handle that was
 * closed is still held for the next opener; a Semaphore keeps its value. */
TEST(named_state_survives_close) {
    char n1[64], n2[64];
    mpt_name(n1, sizeof n1, "keep-l");
    mpt_name(n2, sizeof n2, "keep-s");
    mp_lock_t *l;
    CHECK_OK(mp_lock_open(n1, MP_CREATE | MP_EXCL, 0, &l));
    CHECK_OK(mp_lock_acquire(l, false, 0));
    CHECK_OK(mp_lock_close(l));
    CHECK_OK(mp_lock_open(n1, 0, 0, &l));
    bool locked = false;
    CHECK_OK(mp_lock_is_locked(l, &locked));
    CHECK(locked);
    CHECK_OK(mp_lock_release(l));
    CHECK_OK(mp_lock_close(l));
    CHECK_OK(mp_unlink(n1));

    mp_sem_t *s;
    uint32_t v;
    CHECK_OK(mp_sem_open(n2, MP_CREATE | MP_EXCL, 0, 2, 5, &s));
    CHECK_OK(mp_sem_release(s));
    CHECK_OK(mp_sem_close(s));
    CHECK_OK(mp_sem_open(n2, 0, 0, 0, 0, &s));
    CHECK_OK(mp_sem_get_value(s, &v));
    CHECK(v == 3);
    CHECK_OK(mp_sem_get_max_value(s, &v));
    CHECK(v == 5);
    CHECK_OK(mp_sem_close(s));
    CHECK_OK(mp_unlink(n2));
}

/* A Semaphore's value and bound are used only by the call that creates it; opening
 * with other (valid) values changes nothing; invalid values are MP_EINVAL even when
 * the name exists. */
TEST(named_sem_creation_args_only_on_create) {
    char name[64];
    mpt_name(name, sizeof name, "semargs");
    mp_sem_t *a, *b, *c;
    uint32_t v;
    CHECK_OK(mp_sem_open(name, MP_CREATE, 0, 2, 5, &a));
    CHECK_OK(mp_sem_open(name, MP_CREATE, 0, 4, 4, &b));
    CHECK_OK(mp_sem_open(name, 0, 0, 0, MP_SEM_VALUE_MAX, &c));
    CHECK_OK(mp_sem_get_value(b, &v));
    CHECK(v == 2);
    CHECK_OK(mp_sem_get_max_value(c, &v));
    CHECK(v == 5);
    mp_sem_t *x = NULL;
    CHECK_ST(mp_sem_open(name, 0, 0, 3, 2, &x), MP_EINVAL);
    CHECK_ST(mp_sem_open(name, MP_CREATE, 0, 0, (uint32_t)MP_SEM_VALUE_MAX + 1, &x), MP_EINVAL);
    CHECK(x == NULL);
    CHECK_OK(mp_sem_close(a));
    CHECK_OK(mp_sem_close(b));
    CHECK_OK(mp_sem_close(c));
    CHECK_OK(mp_unlink(name));
}

/* The same name opened 200 times in one process: 200 handles on one object, each
 * closed on its own. */
TEST(named_many_handles_one_object) {
    char name[64];
    mpt_name(name, sizeof name, "many");
    mp_lock_t *h[200];
    for (int i = 0; i < 200; i++) CHECK_OK(mp_lock_open(name, MP_CREATE, 0, &h[i]));
    CHECK_OK(mp_lock_acquire(h[0], false, 0));
    for (int i = 1; i < 200; i++) CHECK_ST(mp_lock_acquire(h[i], false, 0), MP_TIMEOUT);
    CHECK_OK(mp_lock_release(h[199]));
    for (int i = 0; i < 200; i++) CHECK_OK(mp_lock_close(h[i]));
    CHECK_OK(mp_unlink(name));
}

/* ---- permission bits ------------------------------------------------------------- */

/* The created name has exactly the requested permission bits (whatever the umask);
 * 0 means 0600; opening an existing name with another mode does not change it. */
TEST(named_mode_bits_honoured) {
    const uint32_t modes[] = {0, 0600, 0640, 0644, 0660, 0666, 0700, 0604, 0777, 0400, 0200, 0755};
    umask(022);
    for (int k = 0; k < 3; k++) {
        for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
            char name[64], tag[32];
            snprintf(tag, sizeof tag, "mode%d-%zu", k, i);
            mpt_name(name, sizeof name, tag);
            struct mpt_obj o;
            CHECK_OK(open_obj(&o, (enum mpt_kind)k, name, MP_CREATE | MP_EXCL, modes[i], 1, 1));
            int want = modes[i] ? (int)modes[i] : 0600;
            int got = mpt_file_mode(name);
            if (got != want) {
                fprintf(stderr, "%s created with mode 0%o has mode 0%o\n", mpt_kind_name(k), modes[i], got);
                _exit(1);
            }
            CHECK_OK(mpt_close(&o));
            if (geteuid() == 0 || (want & 0600) == 0600) {
                /* re-open (as its owner) with another mode: unchanged */
                CHECK_OK(open_obj(&o, (enum mpt_kind)k, name, MP_CREATE, 0666, 1, 1));
                CHECK(mpt_file_mode(name) == want);
                CHECK_OK(mpt_close(&o));
            }
            CHECK_OK(mp_unlink(name));
        }
    }
}

struct perm_arg { const char *name; enum mpt_kind k; mp_status expect; mp_status expect_any_owner; };

/* Becomes uid/gid 65534 if root; false if that is impossible (e.g. a user namespace
 * that does not map it). */
static bool drop_privileges(void) {
    if (geteuid() != 0) return true;
    return setgroups(0, NULL) == 0 && setgid(65534) == 0 && setuid(65534) == 0 && geteuid() == 65534;
}

#define EXIT_SKIP 77

/* In a child without root rights: open (0 and MP_CREATE) gives `expect`, and with
 * MP_ANY_OWNER `expect_any_owner`; if it works the object is usable. */
static int open_as_other_user(void *p) {
    struct perm_arg *a = p;
    if (!drop_privileges()) return EXIT_SKIP;
    const uint32_t flags[] = {0, MP_CREATE, MP_ANY_OWNER, MP_CREATE | MP_ANY_OWNER};
    for (int i = 0; i < 4; i++) {
        mp_status expect = (flags[i] & MP_ANY_OWNER) ? a->expect_any_owner : a->expect;
        struct mpt_obj o;
        o.p = (void *)(uintptr_t)0x42;
        CHECK_ST(open_obj(&o, a->k, a->name, flags[i], 0, 1, 1), expect);
        if (expect == MP_OK) {
            CHECK_OK(mpt_acquire(&o, false, 0));
            CHECK_OK(mpt_release(&o));
            CHECK_OK(mpt_close(&o));
        } else {
            CHECK(o.p == (void *)(uintptr_t)0x42);
        }
    }
    if (geteuid() != 0) CHECK_ST(mp_unlink(a->name), MP_EACCES); /* sticky /dev/shm: not our file */
    return 0;
}

/* Another user is refused (MP_EACCES) by mode 0600 and 0644 (no write), and by 0666
 * too unless it passes MP_ANY_OWNER (the file is not its own). Needs root to switch
 * users; without it, a 0400 object refuses its own owner. */
TEST(named_permission_denied) {
    for (int k = 0; k < 3; k++) {
        char name[64], tag[32];
        if (geteuid() == 0) {
            const struct { uint32_t mode; mp_status expect, expect_any_owner; } cases[] = {
                {0600, MP_EACCES, MP_EACCES}, {0644, MP_EACCES, MP_EACCES}, {0, MP_EACCES, MP_EACCES},
                {0666, MP_EACCES, MP_OK}};
            for (size_t i = 0; i < 4; i++) {
                snprintf(tag, sizeof tag, "perm%d-%zu", k, i);
                mpt_name(name, sizeof name, tag);
                struct mpt_obj o;
                CHECK_OK(open_obj(&o, (enum mpt_kind)k, name, MP_CREATE | MP_EXCL, cases[i].mode, 1, 1));
                struct perm_arg a = {name, (enum mpt_kind)k, cases[i].expect, cases[i].expect_any_owner};
                pid_t pid = mpt_fork(open_as_other_user, &a);
                int st = 0;
                CHECK(waitpid(pid, &st, 0) == pid);
                CHECK_OK(mpt_close(&o));
                CHECK_OK(mp_unlink(name));
                if (WIFEXITED(st) && WEXITSTATUS(st) == EXIT_SKIP) {
                    fprintf(stderr, "named_permission_denied: cannot switch to uid 65534 here; skipped\n");
                    return;
                }
                CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
            }
        } else {
            snprintf(tag, sizeof tag, "perm%d", k);
            mpt_name(name, sizeof name, tag);
            struct mpt_obj o;
            CHECK_OK(open_obj(&o, (enum mpt_kind)k, name, MP_CREATE | MP_EXCL, 0400, 1, 1));
            CHECK_OK(mpt_close(&o));
            CHECK_ST(open_obj(&o, (enum mpt_kind)k, name, 0, 0, 1, 1), MP_EACCES);
            CHECK_OK(mp_unlink(name));
        }
    }
}

/* ---- other types and foreign files under the name ---------------------------------- */

static void write_file(const char *name, const void *bytes, size_t len) {
    char path[256];
    snprintf(path, sizeof path, "/dev/shm/%s", name + 1);
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    if (len) CHECK(write(fd, bytes, len) == (ssize_t)len);
    close(fd);
}

static void expect_open_all(const char *name, mp_status expect, const char *what) {
    const uint32_t flags[] = {0, MP_CREATE};
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < 2; i++) {
            struct mpt_obj o;
            o.p = (void *)(uintptr_t)0x42;
            mp_status st = open_obj(&o, (enum mpt_kind)k, name, flags[i], 0, 1, 1);
            if (st != expect) {
                fprintf(stderr, "mp_%s_open(%s, flags %u) returned %s, expected %s\n", mpt_kind_name(k), what, flags[i],
                        mp_status_name(st), mp_status_name(expect));
                _exit(1);
            }
            CHECK(o.p == (void *)(uintptr_t)0x42);
        }
        struct mpt_obj o;
        CHECK_ST(open_obj(&o, (enum mpt_kind)k, name, MP_CREATE | MP_EXCL, 0, 1, 1), MP_EEXIST);
    }
}

/* A name that holds another type -> MP_EBADOBJ (flags 0 and MP_CREATE; MP_EXCL ->
 * MP_EEXIST); the object there is not disturbed. */
TEST(named_other_type_is_ebadobj) {
    for (int k = 0; k < 3; k++) {
        char name[64];
        mpt_name(name, sizeof name, mpt_kind_name(k));
        struct mpt_obj o;
        CHECK_OK(open_obj(&o, (enum mpt_kind)k, name, MP_CREATE | MP_EXCL, 0, 1, 1));
        CHECK_OK(mpt_acquire(&o, false, 0));
        for (int other = 0; other < 3; other++) {
            if (other == k) continue;
            const uint32_t flags[] = {0, MP_CREATE};
            for (int i = 0; i < 2; i++) {
                struct mpt_obj x;
                x.p = (void *)(uintptr_t)0x42;
                CHECK_ST(open_obj(&x, (enum mpt_kind)other, name, flags[i], 0, 1, 1), MP_EBADOBJ);
                CHECK(x.p == (void *)(uintptr_t)0x42);
            }
            struct mpt_obj x;
            CHECK_ST(open_obj(&x, (enum mpt_kind)other, name, MP_CREATE | MP_EXCL, 0, 1, 1), MP_EEXIST);
        }
        CHECK_OK(mpt_release(&o));
        CHECK_OK(mpt_acquire(&o, false, 0));
        CHECK_OK(mpt_release(&o));
        CHECK_OK(mpt_close(&o));
        CHECK_OK(mp_unlink(name));
    }
}

/* Files that are not libmpsync objects (empty, wrong size, zeroed, random, a
 * SharedMemory-like page), a symbolic link (even to a real lock) and a FIFO ->
 * MP_EBADOBJ; mp_unlink removes them like any name. */
TEST(named_foreign_files_are_ebadobj) {
    char name[64];
    unsigned char buf[4096];
    const size_t sizes[] = {0, 1, 63, 64, 65, 128, 4096};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (int pattern = 0; pattern < 3; pattern++) {
            char tag[32];
            snprintf(tag, sizeof tag, "foreign%zu-%d", i, pattern);
            mpt_name(name, sizeof name, tag);
            if (pattern == 0) memset(buf, 0, sizeof buf);
            else if (pattern == 1) memset(buf, 0xff, sizeof buf);
            else mpt_fill_random(buf, sizeof buf, i + 1);
            write_file(name, buf, sizes[i]);
            expect_open_all(name, MP_EBADOBJ, tag);
            CHECK_OK(mp_unlink(name));
        }
    }
    /* A symbolic link to a real lock. */
    char target[64], path[256], tpath[256];
    mpt_name(target, sizeof target, "symtarget");
    mpt_name(name, sizeof name, "symlink");
    mp_lock_t *l;
    CHECK_OK(mp_lock_open(target, MP_CREATE | MP_EXCL, 0, &l));
    snprintf(path, sizeof path, "/dev/shm/%s", name + 1);
    snprintf(tpath, sizeof tpath, "/dev/shm/%s", target + 1);
    CHECK(symlink(tpath, path) == 0);
    expect_open_all(name, MP_EBADOBJ, "a symlink");
    CHECK_OK(mp_unlink(name));
    CHECK_OK(mp_lock_close(l));
    CHECK_OK(mp_unlink(target));
    /* A FIFO. */
    mpt_name(name, sizeof name, "fifo");
    snprintf(path, sizeof path, "/dev/shm/%s", name + 1);
    CHECK(mkfifo(path, 0600) == 0);
    expect_open_all(name, MP_EBADOBJ, "a FIFO");
    CHECK_OK(mp_unlink(name));
}

/* A directory or a UNIX socket under the name is not an object either: MP_EBADOBJ
 * (not MP_ESYS). */
TEST(named_directory_and_socket_are_ebadobj) {
    char name[64], path[256];
    for (int what = 0; what < 2; what++) {
        mpt_name(name, sizeof name, what ? "sock" : "dir");
        snprintf(path, sizeof path, "/dev/shm/%s", name + 1);
        int sock = -1;
        if (what == 0) {
            CHECK(mkdir(path, 0700) == 0);
        } else {
            struct sockaddr_un sa;
            memset(&sa, 0, sizeof sa);
            sa.sun_family = AF_UNIX;
            CHECK(strlen(path) < sizeof sa.sun_path);
            strcpy(sa.sun_path, path);
            sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            CHECK(sock >= 0);
            CHECK(bind(sock, (struct sockaddr *)&sa, sizeof sa) == 0);
        }
        const uint32_t flags[] = {0, MP_CREATE};
        mp_status got[3][2];
        for (int k = 0; k < 3; k++)
            for (int i = 0; i < 2; i++) {
                struct mpt_obj o;
                got[k][i] = open_obj(&o, (enum mpt_kind)k, name, flags[i], 0, 1, 1);
            }
        if (what == 0) rmdir(path);
        else {
            close(sock);
            unlink(path);
        }
        for (int k = 0; k < 3; k++)
            for (int i = 0; i < 2; i++)
                if (got[k][i] != MP_EBADOBJ) {
                    fprintf(stderr, "mp_%s_open(a %s, flags %u) returned %s, expected MP_EBADOBJ\n", mpt_kind_name(k),
                            what ? "socket" : "directory", flags[i], mp_status_name(got[k][i]));
                    _exit(1);
                }
    }
}

/* ---- unrelated processes ------------------------------------------------------------ */

static void data_name(char *buf, size_t len, const char *tag) {
    snprintf(buf, len, "mpt-%d-%s-data", (int)getpid(), tag);
}

/* 4 exec'ed programs open an existing named Lock / RLock / Semaphore(1) by name and
 * contend on it: exact counts, nobody else inside. */
static void unrelated_contend(enum mpt_kind k) {
    char name[64], dname[64];
    mpt_name(name, sizeof name, mpt_kind_name(k));
    data_name(dname, sizeof dname, mpt_kind_name(k));
    struct data *d = mpt_map_file(dname, sizeof *d, 1);
    struct mpt_obj o;
    CHECK_OK(open_obj(&o, k, name, MP_CREATE | MP_EXCL, 0, 1, 1));
    struct mpt_gate gate;
    mpt_gate_init(&gate);
    pid_t pids[4];
    const long iters = 50000;
    for (int i = 0; i < 4; i++) pids[i] = spawn("open", k, name, dname, iters, 1, gate.rd, -1, -1, i);
    mpt_gate_open(&gate);
    mpt_wait_all(pids, 4);
    CHECK(d->violations == 0);
    CHECK(d->counter == 4 * iters);
    CHECK(d->max_in_flight == 1);
    CHECK_OK(mpt_acquire(&o, false, 0));
    CHECK_OK(mpt_release(&o));
    CHECK_OK(mpt_close(&o));
    CHECK_OK(mp_unlink(name));
    mpt_unlink_file(dname);
}

TEST(named_lock_unrelated_processes_exact_count) { unrelated_contend(MPT_LOCK); }
TEST(named_rlock_unrelated_processes_exact_count) { unrelated_contend(MPT_RLOCK); }
TEST(named_sem_unrelated_processes_exact_count) { unrelated_contend(MPT_SEM); }

/* In-place objects inside a file that unrelated processes map at their own addresses:
 * the parent inits them, 3 exec'ed programs and the parent contend, exact counts. */
TEST(named_in_place_objects_in_a_shared_file) {
    for (int k = 0; k < 3; k++) {
        char dname[64], tag[16];
        snprintf(tag, sizeof tag, "inpl%d", k);
        data_name(dname, sizeof dname, tag);
        struct data *d = mpt_map_file(dname, sizeof *d, 1);
        struct mpt_obj o = {(enum mpt_kind)k, NULL};
        switch (k) {
        case MPT_LOCK: CHECK_OK(mp_lock_init(&d->lock)); o.p = &d->lock; break;
        case MPT_RLOCK: CHECK_OK(mp_rlock_init(&d->rlock)); o.p = &d->rlock; break;
        default: CHECK_OK(mp_sem_init(&d->sem, 1, 1)); o.p = &d->sem; break;
        }
        struct mpt_gate gate;
        mpt_gate_init(&gate);
        pid_t pids[3];
        const long iters = 30000;
        for (int i = 0; i < 3; i++) pids[i] = spawn("inplace", (enum mpt_kind)k, "-", dname, iters, 1, gate.rd, -1, -1, i);
        mpt_gate_open(&gate);
        contend(&o, d, 99, iters, 1);
        mpt_wait_all(pids, 3);
        CHECK(d->violations == 0);
        CHECK(d->counter == 4 * iters);
        switch (k) {
        case MPT_LOCK: CHECK_OK(mp_lock_destroy(&d->lock)); break;
        case MPT_RLOCK: CHECK_OK(mp_rlock_destroy(&d->rlock)); break;
        default: CHECK_OK(mp_sem_destroy(&d->sem)); break;
        }
        mpt_unlink_file(dname);
    }
}

/* 8 exec'ed programs, released together by a start gate, race MP_CREATE on one
 * brand-new name (3 rounds). All succeed, on ONE fully initialised object: before
 * anyone uses it, a Lock/RLock is free and a Semaphore has the creation value 3; every
 * racer sees the same bound (each asked for a different one: 3 + its index, so only
 * one creation took effect); then all contend on it with exact counts (at most 3
 * inside the Semaphore); no temporary files are left behind. */
static void race_create(enum mpt_kind k) {
    for (int round = 0; round < 3; round++) {
        char name[64], dname[64], tag[32];
        snprintf(tag, sizeof tag, "race-%s-%d", mpt_kind_name(k), round);
        mpt_name(name, sizeof name, tag);
        data_name(dname, sizeof dname, tag);
        struct data *d = mpt_map_file(dname, sizeof *d, 1);
        struct mpt_gate gate, go;
        mpt_gate_init(&gate);
        mpt_gate_init(&go);
        int ready[2];
        CHECK(pipe(ready) == 0);
        CHECK(fcntl(ready[0], F_SETFD, FD_CLOEXEC) == 0);
        const int n = 8, kk = k == MPT_SEM ? 3 : 1;
        const long iters = 5000;
        pid_t pids[8];
        for (int i = 0; i < n; i++) pids[i] = spawn("create", k, name, dname, iters, kk, gate.rd, ready[1], go.rd, i);
        close(ready[1]);
        CHECK(!mpt_file_exists(name));
        mpt_gate_open(&gate); /* everyone calls open(MP_CREATE) now */
        mpt_read_n(ready[0], n);
        close(ready[0]);
        for (int i = 0; i < n; i++) CHECK(d->opened[i] == 1);
        /* Initial state, before anyone used it. */
        struct mpt_obj o;
        CHECK_OK(open_obj(&o, k, name, 0, 0, 1, 1));
        if (k == MPT_LOCK) {
            bool locked = true;
            CHECK_OK(mp_lock_is_locked(o.p, &locked));
            CHECK(!locked);
        } else if (k == MPT_RLOCK) {
            CHECK_OK(mp_rlock_acquire(o.p, false, 0));
            uint32_t c = 0;
            CHECK_OK(mp_rlock_count(o.p, &c));
            CHECK(c == 1);
            CHECK_OK(mp_rlock_release(o.p));
        } else {
            uint32_t v = 0, max = 0;
            CHECK_OK(mp_sem_get_value(o.p, &v));
            CHECK_OK(mp_sem_get_max_value(o.p, &max));
            CHECK(v == 3);
            CHECK(max >= 3 && max < 3 + (uint32_t)n);
            for (int i = 0; i < n; i++) CHECK(d->seen_max[i] == max);
        }
        mpt_gate_open(&go); /* now contend */
        mpt_wait_all(pids, n);
        CHECK(d->counter == n * iters);
        CHECK(d->violations == 0);
        CHECK(d->max_in_flight >= 1 && d->max_in_flight <= kk);
        if (k == MPT_SEM) {
            uint32_t v = 0;
            CHECK_OK(mp_sem_get_value(o.p, &v));
            CHECK(v == 3);
        }
        CHECK_OK(mpt_close(&o));
        CHECK_OK(mp_unlink(name));
        check_no_temp_files(pids, n);
        mpt_unlink_file(dname);
        munmap(d, sizeof *d);
    }
}

TEST(named_lock_8_processes_race_create) { race_create(MPT_LOCK); }
TEST(named_rlock_8_processes_race_create) { race_create(MPT_RLOCK); }
TEST(named_sem_8_processes_race_create) { race_create(MPT_SEM); }
