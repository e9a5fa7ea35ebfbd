/* Killed creators leak nothing (issue 9, defect 7). SIGKILL during
 * mp_array_open(MP_CREATE) of a 512 KiB array used to leave the private temporary file
 * in /dev/shm (about 60 % of kills): tmpfs memory that nothing freed and no API could
 * find. Now a new object is built in an unnamed O_TMPFILE file, which the kernel frees
 * with its creator, and only linked to its name when complete. */
#include "mpt_util.h"
#include <dirent.h>
#include <sys/statvfs.h>

enum { KILLS = 300, ARRAY_BYTES = 512 * 1024 };

static char prefix[64]; /* "mpt-<pid>-ck-": every name the creators publish */

/* Creates distinct arrays forever; unlinks and closes each one it published. */
static int create_forever(void *arg) {
    int child = (int)(intptr_t)arg;
    for (long k = 0;; k++) {
        char name[96];
        snprintf(name, sizeof name, "/%s%d-%ld", prefix, child, k);
        mp_array_t *a;
        mp_status st = mp_array_open(name, MP_CREATE | MP_EXCL, 0600, MP_TYPE_UBYTE, ARRAY_BYTES, true, &a);
        if (st != MP_OK) return 2;
        CHECK_OK(mp_unlink(name));
        CHECK_OK(mp_array_close(a));
    }
}

static uint64_t shm_free_bytes(void) {
    struct statvfs v;
    CHECK(statvfs("/dev/shm", &v) == 0);
    return (uint64_t)v.f_bavail * v.f_frsize;
}

/* Removes the published arrays whose creator died before unlinking them; returns how many. */
static int unlink_published(void) {
    DIR *d = opendir("/dev/shm");
    CHECK(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            CHECK_OK(mp_unlink(e->d_name));
            n++;
        }
    closedir(d);
    return n;
}

/* Temporary creation files of these processes (named .mpsync-tmp-<pid>-...); with
 * `remove`, deletes them (so that a failing run does not leave them behind either). */
static int temp_files_of(const pid_t *pids, int n, int remove) {
    DIR *d = opendir("/dev/shm");
    CHECK(d != NULL);
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        for (int i = 0; i < n; i++) {
            char p[64];
            snprintf(p, sizeof p, ".mpsync-tmp-%d-", (int)pids[i]);
            if (strncmp(e->d_name, p, strlen(p)) == 0) {
                if (!remove && found < 3) fprintf(stderr, "left behind: /dev/shm/%s\n", e->d_name);
                found++;
                if (remove) {
                    char path[300];
                    snprintf(path, sizeof path, "/dev/shm/%s", e->d_name);
                    unlink(path);
                }
            }
        }
    closedir(d);
    return found;
}

/* Forks `n` processes that each run create(i), creating objects in a loop, and
 * SIGKILLs each after a random 0.3-3.3 ms, which lands anywhere in a creation. */
static void kill_creators(pid_t *pids, int n, int (*create)(void *)) {
    srand((unsigned)getpid());
    for (int i = 0; i < n; i++) {
        pids[i] = mpt_fork(create, (void *)(intptr_t)i);
        usleep(300 + rand() % 3000);
        mpt_kill_and_reap(pids[i]); /* died of the SIGKILL: no creation failed */
    }
}

/* Waits (bounded) for the free space of /dev/shm to come back to within 2 MiB of
 * `before` (other test programs may use /dev/shm meanwhile; a leaked file holds up to
 * 512 KiB: the old code lost 7-10 MiB per run this way) and prints the change; removes
 * the killed creators' temporary files (so that a failed check leaves none); then
 * CHECKs that there were none (`left`) and that the free space came back. */
static void check_nothing_left(pid_t *pids, int n, int left, uint64_t before) {
    uint64_t after = 0;
    for (int tries = 0; tries < 50; tries++) {
        after = shm_free_bytes();
        if (after + 2 * 1024 * 1024 >= before) break;
        usleep(100 * 1000);
    }
    fprintf(stderr, "free space %+.1f MiB\n", ((double)after - (double)before) / (1024.0 * 1024.0));
    temp_files_of(pids, n, 1);
    CHECK(left == 0);
    CHECK(after + 2 * 1024 * 1024 >= before);
}

TEST(creators_killed_during_creation_leave_nothing) {
    snprintf(prefix, sizeof prefix, "mpt-%d-ck-", (int)getpid());
    static pid_t pids[KILLS];
    uint64_t before = shm_free_bytes();
    kill_creators(pids, KILLS, create_forever);
    int published = unlink_published();
    int temps = temp_files_of(pids, KILLS, 0);
    fprintf(stderr, "%d kills: %d published-but-not-unlinked arrays removed by name, %d temporary files left\n",
            KILLS, published, temps);
    check_nothing_left(pids, KILLS, temps, before);
}

/* ---- creation without /proc ------------------------------------------------------- */

#include <linux/capability.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/syscall.h>

#define EXIT_SKIP 77

/* Hides /proc (a private mount namespace with an empty tmpfs over it) and drops
 * CAP_DAC_READ_SEARCH, so that an unnamed O_TMPFILE file can be linked neither through
 * /proc/self/fd nor (on kernels that demand the capability) with AT_EMPTY_PATH. */
static bool hide_proc_and_drop_dac_read_search(void) {
    if (unshare(CLONE_NEWNS) != 0) return false;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return false;
    if (mount("none", "/proc", "tmpfs", 0, NULL) != 0) return false;
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) != 0) return false;
    d[0].effective &= ~(1u << CAP_DAC_READ_SEARCH);
    d[0].permitted &= ~(1u << CAP_DAC_READ_SEARCH);
    return syscall(SYS_capset, &h, d) == 0 && access("/proc/self/fd", F_OK) != 0;
}

static int create_without_proc(void *arg) {
    const char *name = arg;
    if (!hide_proc_and_drop_dac_read_search()) return EXIT_SKIP;
    for (int i = 0; i < 20; i++) {
        char n[96];
        snprintf(n, sizeof n, "%s-%d", name, i);
        mp_array_t *a, *b;
        CHECK_OK(mp_array_open(n, MP_CREATE | MP_EXCL, 0640, MP_TYPE_INT, 1000, true, &a));
        CHECK(mpt_file_mode(n) == 0640);
        int x = 42, y = 0;
        CHECK_OK(mp_array_set(a, 999, &x));
        CHECK_OK(mp_array_open(n, 0, 0, MP_TYPE_INT, 1000, true, &b));
        CHECK_OK(mp_array_get(b, 999, &y));
        CHECK(y == 42);
        CHECK_OK(mp_unlink(n));
        CHECK_OK(mp_array_close(a));
        CHECK_OK(mp_array_close(b));
    }
    return 0;
}

/* Without /proc, the unnamed file is published with linkat(AT_EMPTY_PATH) (kernels
 * from 6.10 allow that to the file's opener), or else the object is built again under a
 * temporary name: creation still works, and leaves no temporary file behind. */
TEST(creation_without_proc_still_works_and_leaves_nothing) {
    char name[64];
    mpt_name(name, sizeof name, "noproc");
    pid_t pid = mpt_fork(create_without_proc, name);
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    if (WIFEXITED(st) && WEXITSTATUS(st) == EXIT_SKIP) {
        fprintf(stderr, "creation_without_proc_still_works_and_leaves_nothing: needs root (mount "
                        "namespace, capabilities); skipped\n");
        return;
    }
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(temp_files_of(&pid, 1, 1) == 0);
}

/* ---- where O_TMPFILE is unavailable ------------------------------------------------ */

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>

/* A seccomp filter that makes every open(O_TMPFILE) fail with EOPNOTSUPP, as on a file
 * system without O_TMPFILE support. */
static void forbid_o_tmpfile(void) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
        /* The kernel's own O_TMPFILE bit (glibc's __O_TMPFILE also holds O_DIRECTORY). */
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 020000000, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EOPNOTSUPP),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof f / sizeof f[0], f};
    CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
    CHECK(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0);
    CHECK(open("/dev/shm", O_TMPFILE | O_RDWR, 0600) == -1 && errno == EOPNOTSUPP);
}

static int create_forever_without_tmpfile(void *arg) {
    forbid_o_tmpfile();
    return create_forever(arg);
}

/* One creation in a fresh process without O_TMPFILE: its first creation sweeps. */
static int create_once_without_tmpfile(void *arg) {
    (void)arg;
    forbid_o_tmpfile();
    char name[96];
    snprintf(name, sizeof name, "/%ssweeper", prefix);
    mp_lock_t *l;
    CHECK_OK(mp_lock_open(name, MP_CREATE | MP_EXCL, 0, &l));
    CHECK_OK(mp_unlink(name));
    CHECK_OK(mp_lock_close(l));
    return 0;
}

/* Without O_TMPFILE, a killed creator may leave its temporary file, but under a name
 * that tells who made it (pid, start time, PID namespace): the next process that
 * creates an object removes every such file whose creator is gone. */
TEST(without_tmpfile_dead_creators_temp_files_are_swept) {
    enum { N = 100 };
    snprintf(prefix, sizeof prefix, "mpt-%d-ckt-", (int)getpid());
    static pid_t pids[N];
    uint64_t before = shm_free_bytes();
    kill_creators(pids, N, create_forever_without_tmpfile);
    unlink_published();
    int left = temp_files_of(pids, N, 0);
    mpt_wait_ok(mpt_fork(create_once_without_tmpfile, NULL));
    int after_sweep = temp_files_of(pids, N, 0);
    fprintf(stderr, "%d kills without O_TMPFILE: %d temporary files at the end (each creator sweeps "
                    "its predecessors), %d after one more creation\n",
            N, left, after_sweep);
    check_nothing_left(pids, N, after_sweep, before);
}
