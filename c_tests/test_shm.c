/* Shared-memory blocks (mp_shm_t, CPython's SharedMemory), Python interop, and the
 * safety of every named-object family: exact modes, O_EXCL, sizes checked before
 * mapping, name validation, permission checks for other users. */
#define MPT_CHILD_MAIN
#include "mpt_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

static int path_exists(const char *path) {
    struct stat sb;
    return lstat(path, &sb) == 0;
}

static mode_t path_mode(const char *path) {
    struct stat sb;
    CHECK(stat(path, &sb) == 0);
    return sb.st_mode & 07777;
}

/* ---- every named family behind one interface ---- */

static mp_status open_lock(const char *n, uint32_t f, uint32_t m, void **o) {
    return mp_lock_open(n, f, m, (mp_lock_t **)o);
}
static mp_status close_lock(void *o) { return mp_lock_close(o); }
static mp_status open_rlock(const char *n, uint32_t f, uint32_t m, void **o) {
    return mp_rlock_open(n, f, m, (mp_rlock_t **)o);
}
static mp_status close_rlock(void *o) { return mp_rlock_close(o); }
static mp_status open_sem(const char *n, uint32_t f, uint32_t m, void **o) {
    return mp_sem_open(n, f, m, 1, 1, (mp_sem_t **)o);
}
static mp_status close_sem(void *o) { return mp_sem_close(o); }
static mp_status open_array(const char *n, uint32_t f, uint32_t m, void **o) {
    return mp_array_open(n, f, m, MP_TYPE_INT, 4, true, (mp_array_t **)o);
}
static mp_status close_array(void *o) { return mp_array_close(o); }
static mp_status open_shm(const char *n, uint32_t f, uint32_t m, void **o) {
    return mp_shm_open(n, f, 4096, m, (mp_shm_t **)o);
}
static mp_status close_shm(void *o) { return mp_shm_close(o); }

struct family {
    const char *tag;
    mp_status (*open)(const char *, uint32_t, uint32_t, void **);
    mp_status (*close)(void *);
    size_t size;    /* file size of an object */
    int has_header; /* 0 for raw blocks */
};

static const struct family families[] = {
    {"lock", open_lock, close_lock, MP_LOCK_SIZE, 1},
    {"rlock", open_rlock, close_rlock, MP_RLOCK_SIZE, 1},
    {"sem", open_sem, close_sem, MP_SEM_SIZE, 1},
    {"array", open_array, close_array, MP_ARRAY_DATA_OFFSET + 4 * sizeof(int), 1},
    {"shm", open_shm, close_shm, 4096, 0},
};
enum { NFAM = sizeof families / sizeof families[0] };

/* Writes a file under `name` with `size` bytes of `fill` (or a pattern if fill < 0). */
static void plant_file(const char *name, size_t size, int fill) {
    char path[256];
    int fd = open(mpt_shm_path(path, sizeof path, name), O_CREAT | O_TRUNC | O_RDWR, 0600);
    CHECK(fd >= 0);
    unsigned char buf[8192];
    CHECK(size <= sizeof buf);
    for (size_t i = 0; i < size; i++) buf[i] = fill < 0 ? (unsigned char)(i * 29 + 3) : (unsigned char)fill;
    CHECK(write(fd, buf, size) == (ssize_t)size);
    close(fd);
}

/* The file under `name` still has `size` bytes of the planted content. */
static void check_planted(const char *name, size_t size, int fill) {
    char path[256];
    unsigned char buf[8192];
    int fd = open(mpt_shm_path(path, sizeof path, name), O_RDONLY);
    CHECK(fd >= 0);
    CHECK(read(fd, buf, sizeof buf) == (ssize_t)size);
    for (size_t i = 0; i < size; i++)
        CHECK(buf[i] == (fill < 0 ? (unsigned char)(i * 29 + 3) : (unsigned char)fill));
    close(fd);
}

TEST(named_objects_refuse_truncated_grown_and_foreign_files) {
    char name[64];
    for (int k = 0; k < NFAM; k++) {
        const struct family *f = &families[k];
        if (!f->has_header) continue;
        mpt_name(name, sizeof name, f->tag);
        mp_unlink(name);
        size_t sizes[] = {0, 1, 8, f->size - 1, f->size + 1, f->size + 4096, f->size};
        int fills[] = {0, -1, 0xff};
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            for (int fi = 0; fi < 3; fi++) {
                void *obj = NULL;
                plant_file(name, sizes[s], fills[fi]);
                CHECK_ST(f->open(name, 0, 0, &obj), MP_EBADOBJ);
                CHECK_ST(f->open(name, MP_CREATE, 0, &obj), MP_EBADOBJ);
                CHECK_ST(f->open(name, MP_CREATE | MP_EXCL, 0, &obj), MP_EEXIST);
                CHECK(obj == NULL);
                check_planted(name, sizes[s], fills[fi]); /* never overwritten */
            }
        }
        CHECK_OK(mp_unlink(name));
    }
}

TEST(named_objects_of_another_kind_are_refused) {
    char name[64];
    for (int a = 0; a < NFAM; a++) {
        const struct family *fa = &families[a];
        mpt_name(name, sizeof name, fa->tag);
        mp_unlink(name);
        void *obj;
        CHECK_OK(fa->open(name, MP_CREATE | MP_EXCL, 0, &obj));
        for (int b = 0; b < NFAM; b++) {
            const struct family *fb = &families[b];
            if (b == a || !fb->has_header) continue;
            void *other = NULL;
            CHECK_ST(fb->open(name, 0, 0, &other), MP_EBADOBJ);
            CHECK_ST(fb->open(name, MP_CREATE, 0, &other), MP_EBADOBJ);
            CHECK(other == NULL);
        }
        /* A raw block may look at any object's bytes (as Python can). */
        mp_shm_t *s;
        CHECK_OK(mp_shm_open(name, 0, 0, 0, &s));
        CHECK(mp_shm_size(s) == fa->size);
        CHECK_OK(mp_shm_close(s));
        CHECK_OK(fa->close(obj));
        CHECK_OK(mp_unlink(name));
    }
}

TEST(named_objects_refuse_symlinks_directories_and_fifos) {
    char name[64], path[256];
    for (int k = 0; k < NFAM; k++) {
        const struct family *f = &families[k];
        mpt_name(name, sizeof name, f->tag);
        mpt_shm_path(path, sizeof path, name);
        mp_unlink(name);
        void *obj = NULL;
        /* A symlink to a real, valid-looking target is still refused (O_NOFOLLOW). */
        char target[64], tpath[256];
        mpt_name(target, sizeof target, "target");
        mp_unlink(target);
        CHECK_OK(f->open(target, MP_CREATE | MP_EXCL, 0, &obj));
        CHECK_OK(f->close(obj));
        obj = NULL;
        CHECK(symlink(mpt_shm_path(tpath, sizeof tpath, target), path) == 0);
        CHECK_ST(f->open(name, 0, 0, &obj), MP_EBADOBJ);
        CHECK_ST(f->open(name, MP_CREATE, 0, &obj), MP_EBADOBJ);
        CHECK(unlink(path) == 0);
        CHECK_OK(mp_unlink(target));
        CHECK(mkdir(path, 0700) == 0);
        CHECK_ST(f->open(name, 0, 0, &obj), MP_EBADOBJ);
        CHECK_ST(f->open(name, MP_CREATE, 0, &obj), MP_EBADOBJ);
        CHECK(rmdir(path) == 0);
        CHECK(mkfifo(path, 0600) == 0);
        CHECK_ST(f->open(name, 0, 0, &obj), MP_EBADOBJ);
        CHECK(unlink(path) == 0);
        CHECK(obj == NULL);
    }
}

TEST(named_objects_get_the_exact_mode) {
    char name[64], path[256];
    mode_t masks[] = {0, 022, 077};
    uint32_t modes[] = {0, 0600, 0640, 0604, 0666, 0400, 0};
    for (int k = 0; k < NFAM; k++) {
        const struct family *f = &families[k];
        mpt_name(name, sizeof name, f->tag);
        mpt_shm_path(path, sizeof path, name);
        for (size_t mi = 0; mi < 3; mi++) {
            mode_t old = umask(masks[mi]);
            for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
                void *obj;
                mp_unlink(name);
                CHECK_OK(f->open(name, MP_CREATE | MP_EXCL, modes[i], &obj));
                CHECK(path_mode(path) == (modes[i] ? modes[i] : 0600));
                CHECK_OK(f->close(obj));
            }
            umask(old);
        }
        CHECK_OK(mp_unlink(name));
        /* Mode bits beyond 0777 are refused before anything is created. */
        void *obj = NULL;
        CHECK_ST(f->open(name, MP_CREATE, 04755, &obj), MP_EINVAL);
        CHECK_ST(f->open(name, MP_CREATE, 01777, &obj), MP_EINVAL);
        CHECK(!path_exists(path) && obj == NULL);
    }
}

TEST(named_objects_reject_bad_names_and_flags) {
    char long201[203], long200[203], slash201[204];
    memset(long201, 'x', 201);
    long201[201] = 0;
    memset(long200, 'y', 200);
    long200[200] = 0;
    slash201[0] = '/';
    memcpy(slash201 + 1, long201, 202);
    const char *bad[] = {"", "/", "//a", "a/b", "/a/b", "..", ".", "/..", "/.", "../escape",
                         "../../tmp/mpsync-escape", "a b", "a\nb", "\xc3\xa9", "a*", "a\\b",
                         long201, slash201, NULL};
    for (int k = 0; k < NFAM; k++) {
        const struct family *f = &families[k];
        for (int i = 0; bad[i]; i++) {
            void *obj = NULL;
            CHECK_ST(f->open(bad[i], MP_CREATE, 0, &obj), MP_EINVAL);
            CHECK_ST(f->open(bad[i], 0, 0, &obj), MP_EINVAL);
            CHECK(obj == NULL);
        }
        void *obj = NULL;
        char name[64];
        mpt_name(name, sizeof name, f->tag);
        if (strcmp(f->tag, "shm") != 0) CHECK_ST(f->open(NULL, MP_CREATE, 0, &obj), MP_EINVAL);
        CHECK_ST(f->open(NULL, 0, 0, &obj), MP_EINVAL);
        CHECK_ST(f->open(name, 4, 0, &obj), MP_EINVAL);
        CHECK_ST(f->open(name, MP_EXCL, 0, &obj), MP_EINVAL);
        CHECK_ST(f->open(name, MP_CREATE, 0, NULL), MP_EINVAL);
        CHECK(obj == NULL);
        /* 200 characters, with or without the slash, are fine and the same object. */
        char slashed[204];
        snprintf(slashed, sizeof slashed, "/%s", long200);
        mp_unlink(long200);
        CHECK_OK(f->open(long200, MP_CREATE | MP_EXCL, 0, &obj));
        CHECK_OK(f->close(obj));
        CHECK_OK(f->open(slashed, 0, 0, &obj));
        CHECK_OK(f->close(obj));
        CHECK_OK(mp_unlink(slashed));
    }
    for (int i = 0; bad[i]; i++) CHECK_ST(mp_unlink(bad[i]), MP_EINVAL);
    CHECK_ST(mp_unlink(NULL), MP_EINVAL);
    /* Nothing escaped /dev/shm. */
    CHECK(!path_exists("/dev/escape") && !path_exists("/tmp/mpsync-escape"));
}

/* fork, drop to nobody (65534), run fn; the child's exit status is fn's result.
 * Returns -1 if privileges cannot be dropped here (not root, or not permitted). */
static int as_nobody(int (*fn)(void *), void *arg) {
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0) _exit(200);
        if (getuid() != 65534 || geteuid() != 65534) _exit(200);
        _exit(fn(arg));
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st));
    return WEXITSTATUS(st) == 200 ? -1 : WEXITSTATUS(st);
}

struct perm_case {
    const struct family *f;
    const char *name;
    const char *own_name;
};

static int denied_child(void *arg) {
    struct perm_case *c = arg;
    void *obj = NULL;
    if (c->f->open(c->name, 0, 0, &obj) != MP_EACCES) return 1;
    if (c->f->open(c->name, MP_CREATE, 0, &obj) != MP_EACCES) return 2;
    if (c->f->open(c->name, MP_CREATE | MP_EXCL, 0, &obj) != MP_EEXIST) return 3;
    if (mp_unlink(c->name) != MP_EACCES) return 4; /* sticky /dev/shm, root's file */
    if (obj != NULL) return 5;
    /* Creating its own object still works, owned by nobody. */
    mp_unlink(c->own_name);
    if (c->f->open(c->own_name, MP_CREATE | MP_EXCL, 0, &obj) != MP_OK) return 6;
    if (c->f->close(obj) != MP_OK) return 7;
    return 0;
}

static int allowed_child(void *arg) {
    struct perm_case *c = arg;
    void *obj = NULL;
    /* Root's object: its mode admits us, but we must say that we trust its owner. */
    if (c->f->open(c->name, 0, 0, &obj) != MP_EACCES) return 5;
    if (c->f->open(c->name, MP_ANY_OWNER, 0, &obj) != MP_OK) return 1;
    if (c->f->open == open_lock) {
        if (mp_lock_acquire(obj, true, 1000) != MP_OK) return 2;
        if (mp_lock_release(obj) != MP_OK) return 3;
    }
    return c->f->close(obj) == MP_OK ? 0 : 4;
}

TEST(named_objects_deny_other_users_without_permission) {
    if (geteuid() != 0) {
        printf("SKIP named_objects_deny_other_users_without_permission: not root\n");
        return;
    }
    char name[64], own[80], path[256];
    for (int k = 0; k < NFAM; k++) {
        const struct family *f = &families[k];
        mpt_name(name, sizeof name, f->tag);
        snprintf(own, sizeof own, "%s-nobody", name);
        mp_unlink(name);
        struct perm_case c = {f, name, own};
        uint32_t denied_modes[] = {0400, 0440, 0444, 0600, 0604};
        for (size_t i = 0; i < sizeof denied_modes / sizeof denied_modes[0]; i++) {
            void *obj;
            CHECK_OK(f->open(name, MP_CREATE | MP_EXCL, denied_modes[i], &obj));
            int r = as_nobody(denied_child, &c);
            if (r == -1) {
                printf("SKIP named_objects_deny_other_users_without_permission: setuid not permitted\n");
                CHECK_OK(f->close(obj));
                CHECK_OK(mp_unlink(name));
                return;
            }
            if (r != 0) fprintf(stderr, "%s mode %o: denied_child step %d\n", f->tag, denied_modes[i], r);
            CHECK(r == 0);
            struct stat sb;
            CHECK(stat(mpt_shm_path(path, sizeof path, own), &sb) == 0 && sb.st_uid == 65534);
            CHECK((sb.st_mode & 07777) == 0600);
            CHECK_OK(mp_unlink(own));
            CHECK_OK(f->close(obj));
            CHECK_OK(mp_unlink(name));
        }
        /* mode 0000: nobody else, and root still can (CAP_DAC_OVERRIDE). */
        void *obj, *again;
        CHECK_OK(f->open(name, MP_CREATE | MP_EXCL, 0, &obj));
        CHECK(chmod(mpt_shm_path(path, sizeof path, name), 0) == 0);
        CHECK(as_nobody(denied_child, &c) == 0);
        CHECK_OK(mp_unlink(own));
        CHECK_OK(f->open(name, 0, 0, &again));
        CHECK_OK(f->close(again));
        CHECK_OK(f->close(obj));
        CHECK_OK(mp_unlink(name));
        /* 0666: everyone may use it, with MP_ANY_OWNER. */
        CHECK_OK(f->open(name, MP_CREATE | MP_EXCL, 0666, &obj));
        CHECK(as_nobody(allowed_child, &c) == 0);
        CHECK_OK(f->close(obj));
        CHECK_OK(mp_unlink(name));
    }
}

/* ---- shared-memory blocks ---- */

TEST(shm_create_attach_and_close) {
    char name[64], path[256];
    mpt_name(name, sizeof name, "blk");
    mpt_shm_path(path, sizeof path, name);
    mp_unlink(name);
    mp_shm_t *s = NULL, *t = NULL;
    CHECK_OK(mp_shm_open(name, MP_CREATE | MP_EXCL, 10, 0, &s));
    CHECK(mp_shm_size(s) == 10);
    CHECK(strcmp(mp_shm_name(s), name + 1) == 0); /* as CPython shows it: no '/' */
    CHECK(path_mode(path) == 0600);
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && sb.st_size == 10); /* no rounding (as CPython on Linux) */
    unsigned char *p = mp_shm_data(s);
    CHECK(p != NULL && ((uintptr_t)p % 4096) == 0);
    for (int i = 0; i < 10; i++) CHECK(p[i] == 0);
    memcpy(p, "0123456789", 10);
    /* Attach by the bare name; size ignored when opening. */
    CHECK_OK(mp_shm_open(mp_shm_name(s), 0, 1, 0, &t));
    CHECK(mp_shm_size(t) == 10 && memcmp(mp_shm_data(t), "0123456789", 10) == 0);
    CHECK(mp_shm_data(t) != mp_shm_data(s));
    ((unsigned char *)mp_shm_data(t))[0] = 'X';
    CHECK(p[0] == 'X');
    CHECK_OK(mp_shm_close(t));
    CHECK_OK(mp_shm_open(name, MP_CREATE, 999999, 0, &t)); /* existing: its own size */
    CHECK(mp_shm_size(t) == 10);
    CHECK_OK(mp_shm_close(t));
    t = NULL;
    CHECK_ST(mp_shm_open(name, MP_CREATE | MP_EXCL, 10, 0, &t), MP_EEXIST);
    CHECK(t == NULL);
    CHECK_OK(mp_unlink(name));
    CHECK_ST(mp_unlink(name), MP_ENOENT);
    CHECK_ST(mp_shm_open(name, 0, 10, 0, &t), MP_ENOENT);
    /* The unlinked block stays usable through the open handle. */
    p[9] = '!';
    CHECK(p[9] == '!');
    CHECK_OK(mp_shm_close(s));
}

TEST(shm_generated_names_are_unique_psm_names) {
    enum { N = 64 };
    mp_shm_t *s[N];
    char path[256];
    for (int i = 0; i < N; i++) {
        CHECK_OK(mp_shm_open(NULL, MP_CREATE, 100 + i, 0, &s[i]));
        const char *n = mp_shm_name(s[i]);
        CHECK(strlen(n) == 12 && strncmp(n, "psm_", 4) == 0);
        for (int j = 4; j < 12; j++) CHECK(strchr("0123456789abcdef", n[j]) != NULL);
        CHECK(path_mode(mpt_shm_path(path, sizeof path, n)) == 0600);
        CHECK(mp_shm_size(s[i]) == (size_t)(100 + i));
        for (int j = 0; j < i; j++) CHECK(strcmp(n, mp_shm_name(s[j])) != 0);
    }
    /* MP_CREATE | MP_EXCL and a mode work with generated names too. */
    mp_shm_t *e;
    CHECK_OK(mp_shm_open(NULL, MP_CREATE | MP_EXCL, 1, 0640, &e));
    CHECK(path_mode(mpt_shm_path(path, sizeof path, mp_shm_name(e))) == 0640);
    CHECK_OK(mp_unlink(mp_shm_name(e)));
    CHECK_OK(mp_shm_close(e));
    for (int i = 0; i < N; i++) {
        CHECK_OK(mp_unlink(mp_shm_name(s[i])));
        CHECK_OK(mp_shm_close(s[i]));
    }
}

/* No temporary or named file of this process left in /dev/shm. */
static int leftovers(const char *name) {
    char tmp_prefix[64];
    snprintf(tmp_prefix, sizeof tmp_prefix, ".mpsync-tmp-%d-", (int)getpid());
    DIR *d = opendir("/dev/shm");
    CHECK(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, tmp_prefix, strlen(tmp_prefix)) == 0 || strcmp(e->d_name, name + 1) == 0) n++;
    closedir(d);
    return n;
}

TEST(shm_bad_arguments_create_nothing) {
    char name[64];
    mpt_name(name, sizeof name, "args");
    mp_unlink(name);
    mp_shm_t *s = NULL;
    CHECK_ST(mp_shm_open(name, MP_CREATE, 0, 0, &s), MP_EINVAL);
    CHECK_ST(mp_shm_open(name, MP_CREATE | MP_EXCL, 0, 0, &s), MP_EINVAL);
    CHECK_ST(mp_shm_open(NULL, MP_CREATE, 0, 0, &s), MP_EINVAL);
    CHECK_ST(mp_shm_open(NULL, 0, 10, 0, &s), MP_EINVAL);
    CHECK_ST(mp_shm_open(name, MP_CREATE, 10, 0, NULL), MP_EINVAL);
    CHECK_ST(mp_shm_open(name, MP_CREATE, 10, 010000, &s), MP_EINVAL);
    CHECK_ST(mp_shm_open(name, 8, 10, 0, &s), MP_EINVAL);
    CHECK_ST(mp_shm_open(name, MP_CREATE, SIZE_MAX, 0, &s), MP_ENOMEM);
    CHECK(s == NULL);
    CHECK(leftovers(name) == 0);
    CHECK(mp_shm_data(NULL) == NULL && mp_shm_size(NULL) == 0 && mp_shm_name(NULL) == NULL);
    CHECK_ST(mp_shm_close(NULL), MP_EINVAL);
    /* A pointer that is not a handle. */
    static uint64_t fake[8];
    CHECK_ST(mp_shm_close((mp_shm_t *)fake), MP_EBADOBJ);
    CHECK(mp_shm_data((mp_shm_t *)fake) == NULL && mp_shm_size((mp_shm_t *)fake) == 0);
}

TEST(shm_empty_file_is_refused) {
    char name[64], path[256];
    mpt_name(name, sizeof name, "empty");
    int fd = open(mpt_shm_path(path, sizeof path, name), O_CREAT | O_EXCL | O_RDWR, 0600);
    CHECK(fd >= 0);
    close(fd);
    mp_shm_t *s = NULL;
    CHECK_ST(mp_shm_open(name, 0, 0, 0, &s), MP_EBADOBJ);
    CHECK_ST(mp_shm_open(name, MP_CREATE, 10, 0, &s), MP_EBADOBJ);
    CHECK(s == NULL && path_exists(path));
    CHECK_OK(mp_unlink(name));
}

TEST(shm_too_big_for_dev_shm_is_enomem_not_sigbus) {
    struct statvfs v;
    CHECK(statvfs("/dev/shm", &v) == 0);
    if (v.f_blocks == 0) {
        printf("SKIP shm_too_big_for_dev_shm_is_enomem_not_sigbus: /dev/shm has no size limit\n");
        return;
    }
    size_t cap = (size_t)v.f_blocks * v.f_frsize;
    char name[64];
    mpt_name(name, sizeof name, "huge");
    mp_unlink(name);
    mp_shm_t *s = NULL;
    /* Larger than the whole filesystem: refused at once (tmpfs checks the size limit
     * before allocating anything). */
    CHECK_ST(mp_shm_open(name, MP_CREATE | MP_EXCL, cap + (1u << 20), 0, &s), MP_ENOMEM);
    CHECK(s == NULL && leftovers(name) == 0);
    mp_array_t *a = NULL;
    CHECK_ST(mp_array_open(name, MP_CREATE, 0, MP_TYPE_CHAR, cap + (1u << 20), false, &a), MP_ENOMEM);
    CHECK(a == NULL && leftovers(name) == 0);
}

static int fork_writer(void *arg) {
    mp_shm_t *s = arg;
    unsigned char *p = mp_shm_data(s);
    for (size_t i = 0; i < mp_shm_size(s); i++) p[i] = (unsigned char)(i * 7);
    return mp_shm_close(s) == MP_OK ? 0 : 1;
}

/* Exec'ed child: "shm <name> <size>": checks the fork writer's pattern, writes a mark. */
static int mpt_child(int argc, char **argv) {
    if (argc < 3 || strcmp(argv[0], "shm") != 0) return 99;
    mp_shm_t *s;
    mp_status st = mp_shm_open(argv[1], 0, 0, 0, &s);
    if (st != MP_OK) return 100 - st;
    if (mp_shm_size(s) != (size_t)atol(argv[2])) return 2;
    unsigned char *p = mp_shm_data(s);
    for (size_t i = 0; i < mp_shm_size(s); i++)
        if (p[i] != (unsigned char)(i * 7)) return 3;
    p[0] = 0xEE;
    return mp_shm_close(s) == MP_OK ? 0 : 4;
}

TEST(shm_shared_with_forked_and_unrelated_processes) {
    mp_shm_t *s;
    CHECK_OK(mp_shm_open(NULL, MP_CREATE, 70000, 0, &s));
    mpt_wait_ok(mpt_fork(fork_writer, s));
    unsigned char *p = mp_shm_data(s);
    CHECK(p[69999] == (unsigned char)(69999 * 7));
    const char *args[] = {"shm", mp_shm_name(s), "70000", NULL};
    mpt_wait_ok(mpt_spawn_child(args));
    CHECK(p[0] == 0xEE);
    CHECK_OK(mp_unlink(mp_shm_name(s)));
    int st;
    pid_t pid = mpt_spawn_child(args);
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 100 - MP_ENOENT);
    CHECK_OK(mp_shm_close(s));
}

/* ---- Python interop (multiprocessing.shared_memory) ---- */

/* Attaches without letting Python's resource tracker unlink the block at exit:
 * track=False on 3.13+, unregister on older versions. */
#define PY_PRELUDE                                                                   \
    "import sys, struct\n"                                                           \
    "from multiprocessing import shared_memory, resource_tracker\n"                 \
    "def attach(name):\n"                                                            \
    "    try:\n"                                                                     \
    "        return shared_memory.SharedMemory(name=name, track=False)\n"            \
    "    except TypeError:\n"                                                        \
    "        shm = shared_memory.SharedMemory(name=name)\n"                          \
    "        resource_tracker.unregister(shm._name, 'shared_memory')\n"              \
    "        return shm\n"

/* Runs `python3 -c script args...`, capturing stdout (stderr goes to /dev/null when
 * `quiet`). Returns the exit status, or -1 if python3 cannot be executed. */
static int run_python_q(const char *script, const char *const *args, char *out, size_t outlen, int quiet) {
    int fds[2];
    pid_t pid = mpt_fork_with_pipe(fds);
    if (pid == 0) {
        dup2(fds[1], 1);
        if (quiet) {
            int devnull = open("/dev/null", O_WRONLY);
            if (devnull >= 0) dup2(devnull, 2);
        }
        close(fds[0]);
        close(fds[1]);
        const char *argv[16] = {"python3", "-c", script};
        int n = 3;
        while (args && *args && n < 15) argv[n++] = *args++;
        argv[n] = NULL;
        execvp("python3", (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    size_t got = 0;
    char scratch[256];
    for (;;) {
        ssize_t r = got < outlen - 1 ? read(fds[0], out + got, outlen - 1 - got)
                                     : read(fds[0], scratch, sizeof scratch); /* drain */
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        if (got < outlen - 1) got += (size_t)r;
    }
    out[got] = 0;
    close(fds[0]);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st));
    return WEXITSTATUS(st) == 127 ? -1 : WEXITSTATUS(st);
}

static int run_python(const char *script, const char *const *args, char *out, size_t outlen) {
    return run_python_q(script, args, out, outlen, 0);
}

static int have_python(void) {
    char out[64];
    int r = run_python_q("import multiprocessing.shared_memory", NULL, out, sizeof out, 1);
    if (r != 0) printf("SKIP: python3 with multiprocessing.shared_memory not found; interop not tested\n");
    return r == 0;
}

static void chomp(char *s) {
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = 0;
}

/* Runs `script`, CHECKs that it succeeded, and leaves its output in `out` without the
 * trailing newline. */
static void python_line(const char *script, const char *const *args, char *out, size_t outlen) {
    CHECK(run_python(script, args, out, outlen) == 0);
    chomp(out);
}

TEST(shm_python_attaches_blocks_created_in_c) {
    if (!have_python()) return;
    const char *script = PY_PRELUDE
        "shm = attach(sys.argv[1])\n"
        "assert shm.size == int(sys.argv[2]), shm.size\n"
        "assert bytes(shm.buf[:256]) == bytes(range(256))\n"
        "shm.buf[1000:1011] = b'from-python'\n"
        "print(shm.name)\n"
        "shm.close()\n";
    char name[64];
    mpt_name(name, sizeof name, "topy");
    mp_unlink(name);
    for (int generated = 0; generated < 2; generated++) {
        mp_shm_t *s;
        CHECK_OK(mp_shm_open(generated ? NULL : name, MP_CREATE | MP_EXCL, 4096, 0, &s));
        unsigned char *p = mp_shm_data(s);
        for (int i = 0; i < 256; i++) p[i] = (unsigned char)i;
        char out[512];
        const char *args[] = {mp_shm_name(s), "4096", NULL};
        python_line(script, args, out, sizeof out);
        CHECK(strcmp(out, mp_shm_name(s)) == 0); /* Python shows the same name */
        CHECK(memcmp(p + 1000, "from-python", 11) == 0);
        /* Still there after Python exited (its resource tracker left it alone). */
        mp_shm_t *t;
        CHECK_OK(mp_shm_open(mp_shm_name(s), 0, 0, 0, &t));
        CHECK_OK(mp_shm_close(t));
        CHECK_OK(mp_unlink(mp_shm_name(s)));
        CHECK_OK(mp_shm_close(s));
    }
}

TEST(shm_c_attaches_blocks_created_in_python) {
    if (!have_python()) return;
    const char *create = PY_PRELUDE
        "shm = shared_memory.SharedMemory(create=True, size=1000)\n"
        "shm.buf[:5] = b'hello'\n"
        "shm.buf[999] = 7\n"
        "resource_tracker.unregister(shm._name, 'shared_memory')\n"
        "print(shm.name)\n"
        "shm.close()\n";
    const char *verify = PY_PRELUDE
        "shm = attach(sys.argv[1])\n"
        "assert shm.size == 1000, shm.size\n"
        "assert bytes(shm.buf[500:502]) == b'C!', bytes(shm.buf[500:502])\n"
        "print('ok')\n"
        "shm.close()\n";
    char out[512], path[256];
    python_line(create, NULL, out, sizeof out);
    CHECK(strncmp(out, "psm_", 4) == 0);
    CHECK(path_mode(mpt_shm_path(path, sizeof path, out)) == 0600);
    mp_shm_t *s;
    CHECK_OK(mp_shm_open(out, 0, 0, 0, &s));
    CHECK(mp_shm_size(s) == 1000);
    CHECK(strcmp(mp_shm_name(s), out) == 0);
    unsigned char *p = mp_shm_data(s);
    CHECK(memcmp(p, "hello", 5) == 0 && p[999] == 7 && p[500] == 0);
    memcpy(p + 500, "C!", 2);
    char name[64];
    snprintf(name, sizeof name, "%.60s", out);
    const char *args[] = {name, NULL};
    python_line(verify, args, out, sizeof out);
    CHECK(strcmp(out, "ok") == 0);
    CHECK_OK(mp_unlink(name));
    CHECK(run_python_q(verify, args, out, sizeof out, 1) != 0); /* FileNotFoundError now */
    CHECK_OK(mp_shm_close(s));
}

TEST(array_elements_readable_from_python_at_the_data_offset) {
    if (!have_python()) return;
    const char *script = PY_PRELUDE
        "shm = attach(sys.argv[1])\n"
        "off = int(sys.argv[2])\n"
        "assert shm.buf[8] == ord('i')\n"
        "n = struct.unpack_from('=Q', shm.buf, 16)[0]\n"
        "assert n == 10 and shm.size == off + 4 * n, (n, shm.size)\n"
        "print(sum(struct.unpack_from('=%di' % n, shm.buf, off)))\n"
        "struct.pack_into('=i', shm.buf, off + 4 * (n - 1), -5)\n"
        "shm.close()\n";
    char name[64], off[32], out[256];
    mpt_name(name, sizeof name, "arrpy");
    mp_unlink(name);
    mp_array_t *a;
    CHECK_OK(mp_array_open(name, MP_CREATE | MP_EXCL, 0, MP_TYPE_INT, 10, true, &a));
    for (int i = 0; i < 10; i++) {
        int v = i + 1;
        CHECK_OK(mp_array_set(a, (size_t)i, &v));
    }
    snprintf(off, sizeof off, "%d", (int)MP_ARRAY_DATA_OFFSET);
    const char *args[] = {name + 1, off, NULL};
    python_line(script, args, out, sizeof out);
    CHECK(strcmp(out, "55") == 0);
    int last = 0;
    CHECK_OK(mp_array_get(a, 9, &last));
    CHECK(last == -5);
    CHECK_OK(mp_array_close(a));
    CHECK_OK(mp_unlink(name));
}
