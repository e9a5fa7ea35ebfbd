/* The /proc evidence of a holder's death. A waiter that cannot read the holder's /proc
 * entry (hidepid=1/2, as systemd's ProtectProc=invisible gives every service; a holder
 * of another uid; a non-dumpable holder; a full descriptor table) must never declare a
 * live holder dead: that would make two owners. Positive evidence (the kernel's ESRCH
 * for the holder's ids) still finds a dead one, hidden /proc or not.
 *
 * The hidepid tests need root (a private mount namespace with its own /proc mount and
 * two unprivileged uids); they skip with a message where that cannot be built. The
 * descriptor-table tests need nothing. */
#include "mpt_util.h"
#include <sys/mount.h>
#include <grp.h>
#include <sys/resource.h>

enum holder_kind { RLOCK, UNDO_SEM };

struct stage {
    mp_rlock_t lock;
    volatile int holds;        /* 1 once the holder has the lock (or the unit) */
    volatile int release_now;  /* set by the waiter: release and exit */
    volatile int holder_status;
    volatile int waiter_status;
    volatile int waiter_ready;
    mp_sem_undo_t sem;
};

#define WAITER_UID 65534 /* nobody */
#define OTHER_UID 65533

static mp_sem_undo_t *undo_sem(struct stage *s) { return &s->sem; }

static mp_status take(struct stage *s, enum holder_kind k, int64_t ms) {
    return k == RLOCK ? mp_rlock_acquire(&s->lock, true, ms) : mp_sem_undo_acquire(undo_sem(s), true, ms);
}

static mp_status give(struct stage *s, enum holder_kind k) {
    return k == RLOCK ? mp_rlock_release(&s->lock) : mp_sem_undo_release(undo_sem(s));
}

static struct stage *new_stage(void) {
    struct stage *s = mpt_shared(sizeof *s);
    CHECK_OK(mp_rlock_init(&s->lock));
    CHECK_OK(mp_sem_undo_init(undo_sem(s), 1, 1));
    return s;
}

static int become(uid_t uid) {
    return setgroups(0, NULL) == 0 && setresgid(uid, uid, uid) == 0 && setresuid(uid, uid, uid) == 0 ? 0 : -1;
}

/* In a fresh child: a private mount namespace whose /proc is a new proc instance mounted
 * with `hidepid=<hidepid>`. Exit codes 77/78 mean "cannot be built here". */
static void enter_hidden_proc(int hidepid) {
    if (unshare(CLONE_NEWNS) != 0) _exit(77);
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) _exit(78);
    char opts[32];
    snprintf(opts, sizeof opts, "hidepid=%d", hidepid);
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) != 0) _exit(78);
}

/* Holder: takes the lock as `uid` (non-dumpable if asked), then waits for release_now
 * (or pauses forever if `forever`). */
static void run_holder(struct stage *s, enum holder_kind k, uid_t uid, int non_dumpable, int forever) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (become(uid) != 0) _exit(79);
    if (non_dumpable && prctl(PR_SET_DUMPABLE, 0) != 0) _exit(80);
    s->holder_status = take(s, k, MP_FOREVER);
    if (s->holder_status != MP_OK) _exit(3);
    s->holds = 1;
    if (forever)
        for (;;) pause();
    double t0 = mpt_now_ms();
    while (!s->release_now && mpt_now_ms() - t0 < 30000) usleep(500);
    s->holder_status = give(s, k);
    _exit(0);
}

/* Returns 1 (after printing SKIP) if the stage child exited with a "cannot build" code. */
static int skipped(int code, const char *what) {
    if (code == 77 || code == 78 || code == 79) {
        fprintf(stderr, "SKIP: %s: needs root for a mount namespace, a hidepid /proc mount and setuid (exit %d)\n",
                what, code);
        return 1;
    }
    return 0;
}

static int exit_code(pid_t pid) {
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

/* A live holder that the waiter's /proc hides: the waiter, blocked through several
 * back-stop rounds, must time out, and get the lock normally once the holder releases. */
static void live_hidden_holder(enum holder_kind k, int hidepid, uid_t holder_uid, int non_dumpable) {
    struct stage *s = new_stage();
    pid_t stage = fork();
    CHECK(stage >= 0);
    if (stage == 0) {
        enter_hidden_proc(hidepid);
        pid_t holder = fork();
        if (holder == 0) run_holder(s, k, holder_uid, non_dumpable, 0);
        double t0 = mpt_now_ms();
        while (!s->holds) {
            int st;
            if (waitpid(holder, &st, WNOHANG) == holder) _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 90);
            if (mpt_now_ms() - t0 > 10000) _exit(91);
            usleep(500);
        }
        if (become(WAITER_UID) != 0) _exit(79);
        /* Make sure the waiter really cannot see the holder: otherwise this proves nothing. */
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)holder);
        int fd = open(path, O_RDONLY);
        if (fd >= 0) {
            char b[8];
            if (read(fd, b, sizeof b) > 0) _exit(92);
            close(fd);
        }
        s->waiter_status = take(s, k, 1500);
        s->release_now = 1;
        int hs = 0;
        waitpid(holder, &hs, 0);
        if (!WIFEXITED(hs) || WEXITSTATUS(hs) != 0) _exit(93);
        if (s->waiter_status == MP_TIMEOUT) {
            /* The holder released: the waiter now gets it, with no report. */
            s->waiter_status = take(s, k, 5000);
            if (s->waiter_status == MP_OK) give(s, k);
            else _exit(94);
        } else if (s->waiter_status == MP_OWNER_DEAD || s->waiter_status == MP_OK) {
            give(s, k);
        }
        _exit(0);
    }
    int code = exit_code(stage);
    if (skipped(code, "hidepid")) return;
    if (code == 92) {
        fprintf(stderr, "SKIP: hidepid=%d did not hide the holder from the waiter here\n", hidepid);
        return;
    }
    if (code != 0) fprintf(stderr, "stage exit %d, waiter %s\n", code, mp_status_name(s->waiter_status));
    CHECK(code == 0);
    CHECK_ST(s->holder_status, MP_OK);
    CHECK_ST(s->waiter_status, MP_OK); /* the second take, after the timeout */
}

TEST(hidepid2_live_rlock_owner_of_another_uid_is_not_dead) { live_hidden_holder(RLOCK, 2, OTHER_UID, 0); }
TEST(hidepid1_live_rlock_owner_of_another_uid_is_not_dead) { live_hidden_holder(RLOCK, 1, OTHER_UID, 0); }
TEST(hidepid2_live_non_dumpable_rlock_owner_of_our_uid_is_not_dead) {
    live_hidden_holder(RLOCK, 2, WAITER_UID, 1);
}
TEST(hidepid2_live_undo_holder_of_another_uid_is_not_dead) { live_hidden_holder(UNDO_SEM, 2, OTHER_UID, 0); }
TEST(hidepid1_live_non_dumpable_undo_holder_of_our_uid_is_not_dead) {
    live_hidden_holder(UNDO_SEM, 1, WAITER_UID, 1);
}

/* A holder that the waiter's /proc hides dies (robust mode off, so only the back-stop can
 * tell): the kernel's ESRCH for its ids is positive evidence, and the waiter recovers. */
static void dead_hidden_holder(enum holder_kind k) {
    setenv("MPSYNC_NO_ROBUST", "1", 1);
    struct stage *s = new_stage();
    pid_t stage = fork();
    CHECK(stage >= 0);
    if (stage == 0) {
        enter_hidden_proc(2);
        pid_t holder = fork();
        if (holder == 0) run_holder(s, k, OTHER_UID, 0, 1);
        double t0 = mpt_now_ms();
        while (!s->holds) {
            if (mpt_now_ms() - t0 > 10000) _exit(91);
            usleep(500);
        }
        kill(holder, SIGKILL);
        waitpid(holder, NULL, 0);
        if (become(WAITER_UID) != 0) _exit(79);
        s->waiter_status = take(s, k, 10000);
        if (s->waiter_status == MP_OWNER_DEAD) give(s, k);
        _exit(0);
    }
    int code = exit_code(stage);
    if (skipped(code, "hidepid")) return;
    CHECK(code == 0);
    CHECK_ST(s->waiter_status, MP_OWNER_DEAD);
}

TEST(hidepid2_dead_rlock_owner_is_still_found_with_robust_off) { dead_hidden_holder(RLOCK); }
TEST(hidepid2_dead_undo_holder_is_still_found_with_robust_off) { dead_hidden_holder(UNDO_SEM); }

/* ---- a full descriptor table ------------------------------------------------------ */

/* Takes the process's last free descriptor and gives it back, over and over, so that of
 * two /proc reads in a row one may succeed and the next fail with EMFILE. */
static volatile int flapping = 1;
static void *flap_last_fd(void *arg) {
    (void)arg;
    unsigned x = 12345;
    while (flapping) {
        int fd = dup(2);
        x = x * 1103515245u + 12345u;
        for (volatile unsigned i = 0; i < (x >> 16) % 2000; i++) {
        }
        if (fd >= 0) close(fd);
        x = x * 1103515245u + 12345u;
        for (volatile unsigned i = 0; i < (x >> 16) % 2000; i++) {
        }
    }
    return NULL;
}

/* Fills the descriptor table to one free slot under a small RLIMIT_NOFILE. */
static void fill_descriptor_table(void) {
    struct rlimit rl = {.rlim_cur = 64, .rlim_max = 64};
    struct rlimit old;
    CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0);
    if (old.rlim_max < rl.rlim_max) rl.rlim_max = rl.rlim_cur = old.rlim_max;
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    int last = -1;
    for (;;) {
        int fd = dup(2);
        if (fd < 0) break;
        last = fd;
    }
    CHECK(errno == EMFILE);
    CHECK(last >= 0);
    close(last); /* exactly one free slot, which the flapper takes and gives back */
}

static void live_holder_at_fd_limit(enum holder_kind k, int robust_off) {
    if (robust_off) setenv("MPSYNC_NO_ROBUST", "1", 1);
    struct stage *s = new_stage();
    /* The waiter's thread state exists before the table fills. */
    CHECK_OK(take(s, k, MP_FOREVER));
    CHECK_OK(give(s, k));
    pid_t holder = fork();
    CHECK(holder >= 0);
    if (holder == 0) run_holder(s, k, getuid(), 0, 1);
    MPT_WAIT_UNTIL(s->holds, 10);
    fill_descriptor_table();
    pthread_t t;
    CHECK(pthread_create(&t, NULL, flap_last_fd, NULL) == 0);
    /* 16 back-stop rounds of 250 ms against a live holder. */
    mp_status st = take(s, k, 4000);
    flapping = 0;
    pthread_join(t, NULL);
    mpt_kill_and_reap(holder);
    if (st == MP_OWNER_DEAD || st == MP_OK) give(s, k);
    CHECK_ST(st, MP_TIMEOUT);
    /* And death is still found with no descriptor free at all: the holder is gone now. */
    CHECK(dup(2) >= 0);
    CHECK(dup(2) < 0 && errno == EMFILE);
    if (robust_off) {
        CHECK_ST(take(s, k, 10000), MP_OWNER_DEAD);
        CHECK_OK(give(s, k));
    }
}

TEST(fd_limit_never_makes_a_live_rlock_owner_dead) { live_holder_at_fd_limit(RLOCK, 0); }
TEST(fd_limit_never_makes_a_live_rlock_owner_dead_robust_off) { live_holder_at_fd_limit(RLOCK, 1); }
TEST(fd_limit_never_makes_a_live_undo_holder_dead) { live_holder_at_fd_limit(UNDO_SEM, 0); }
TEST(fd_limit_never_makes_a_live_undo_holder_dead_robust_off) { live_holder_at_fd_limit(UNDO_SEM, 1); }
