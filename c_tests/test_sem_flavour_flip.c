/* A semaphore's flavour is a tag in shared memory, and a peer that can write a plain
 * semaphore can rewrite that tag to the undo kind. An undo semaphore is
 * MP_SEM_UNDO_SIZE bytes, a plain one MP_SEM_SIZE (in place) or one page (named or
 * anonymous): the other processes must answer MP_EBADOBJ, never read or write past the
 * plain object (a crash, or an overrun of their own memory). In-place undo semaphores
 * are used where the process initialised them (and its fork() children) or declared
 * them with mp_sem_attach_ex. Real fork()ed peers and victims. */
#include "mptest.h"
#include "mpt_util.h"

/* The kind byte of the shared header (little-endian tag word at offset 4). */
#define KIND_BYTE 4
#define KIND_SEM_UNDO 8

/* A peer process rewrites the kind tag of the object at `p` (memory it shares). */
static void peer_flips_kind(volatile unsigned char *p) {
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        p[KIND_BYTE] = KIND_SEM_UNDO;
        _exit(0);
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(p[KIND_BYTE] == KIND_SEM_UNDO);
}

/* Every call another process makes on the flipped semaphore is MP_EBADOBJ. */
static void calls_are_ebadobj(mp_sem_t *s, bool handle) {
    uint32_t u = 12345;
    CHECK_ST(mp_sem_acquire(s, false, 0), MP_EBADOBJ);
    CHECK_ST(mp_sem_acquire(s, true, 50), MP_EBADOBJ);
    CHECK_ST(mp_sem_release(s), MP_EBADOBJ);
    CHECK_ST(mp_sem_get_value(s, &u), MP_EBADOBJ);
    CHECK_ST(mp_sem_get_max_value(s, &u), MP_EBADOBJ);
    CHECK_ST(mp_sem_get_flags(s, &u), MP_EBADOBJ);
    CHECK_ST(mp_sem_held(s, &u), MP_EBADOBJ);
    CHECK(u == 12345); /* out-parameters untouched */
    CHECK_ST(mp_sem_destroy(s), MP_EBADOBJ);
    /* A handle's extent is the registry's: declaring it an undo semaphore is refused. */
    if (handle) CHECK_ST(mp_sem_attach_ex(s, MP_SEM_UNDO), MP_EBADOBJ);
}

/* Runs calls_are_ebadobj in a fork()ed victim (so that a crash is reported as such),
 * then in this process too. */
static void victims_get_ebadobj(mp_sem_t *s, bool handle) {
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        calls_are_ebadobj(s, handle);
        _exit(0);
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    if (WIFSIGNALED(st)) {
        fprintf(stderr, "victim process killed by signal %d (%s)\n", WTERMSIG(st), strsignal(WTERMSIG(st)));
        _exit(1);
    }
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    calls_are_ebadobj(s, handle);
}

TEST(flipped_named_plain_semaphore_is_ebadobj_for_everyone) {
    char name[64];
    mpt_name(name, sizeof name, "flip");
    mp_sem_t *s = NULL;
    CHECK_OK(mp_sem_open(name, MP_CREATE | MP_EXCL, 0600, 1, 1, &s));
    /* The peer writes through its own mapping of the file. */
    unsigned char *peer = mpt_map_file(name + 1, MP_SEM_SIZE, 0);
    peer_flips_kind(peer);
    victims_get_ebadobj(s, true);
    /* Reopening it, as another process would, is refused too (either flavour). */
    mp_sem_t *b = NULL;
    CHECK_ST(mp_sem_open(name, 0, 0, 0, 1, &b), MP_EBADOBJ);
    CHECK_ST(mp_sem_open_ex(name, 0, 0, 0, 1, MP_SEM_UNDO, &b), MP_EBADOBJ);
    CHECK_OK(mp_sem_close(s)); /* the registry knows the handle */
    CHECK_OK(mp_unlink(name));
    munmap(peer, MP_SEM_SIZE);
}

TEST(flipped_anonymous_plain_semaphore_is_ebadobj_for_everyone) {
    mp_sem_t *s = NULL;
    CHECK_OK(mp_sem_new(2, 5, &s));
    peer_flips_kind((volatile unsigned char *)s);
    victims_get_ebadobj(s, true);
    CHECK_OK(mp_sem_close(s));
}

TEST(flipped_in_place_plain_semaphore_is_ebadobj_for_everyone) {
    /* The semaphore ends exactly where readable memory ends: any byte past
     * MP_SEM_SIZE is a guard page. */
    long page = sysconf(_SC_PAGESIZE);
    unsigned char *mem = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(mem != MAP_FAILED);
    CHECK(mprotect(mem + page, (size_t)page, PROT_NONE) == 0);
    mp_sem_t *s = (mp_sem_t *)(mem + page - MP_SEM_SIZE);
    CHECK_OK(mp_sem_init(s, 1, 1));
    peer_flips_kind((volatile unsigned char *)s);
    victims_get_ebadobj(s, false);
    CHECK_ST(mp_sem_close(s), MP_EBADOBJ);
    munmap(mem, 2 * (size_t)page);
}

TEST(an_undo_semaphore_destroyed_and_reused_plain_is_no_longer_trusted) {
    long page = sysconf(_SC_PAGESIZE);
    size_t len = 3 * (size_t)page;
    unsigned char *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(mem != MAP_FAILED);
    mp_sem_t *s = (mp_sem_t *)(mem + page - MP_SEM_SIZE);
    CHECK_OK(mp_sem_init_ex(s, 1, 1, MP_SEM_UNDO));
    CHECK_OK(mp_sem_destroy(s));
    /* Now plain, at the end of readable memory. */
    CHECK(mprotect(mem + page, len - (size_t)page, PROT_NONE) == 0);
    CHECK_OK(mp_sem_init(s, 1, 1));
    peer_flips_kind((volatile unsigned char *)s);
    victims_get_ebadobj(s, false);
    munmap(mem, len);
}

TEST(undo_init_over_a_plain_handle_is_refused) {
    mp_sem_t *s = NULL;
    CHECK_OK(mp_sem_new(1, 1, &s));
    CHECK_ST(mp_sem_init_ex(s, 1, 1, MP_SEM_UNDO), MP_EBADOBJ);
    uint32_t f = 7;
    CHECK_OK(mp_sem_get_flags(s, &f)); /* nothing was written */
    CHECK(f == 0);
    CHECK_OK(mp_sem_close(s));
}

/* An in-place undo semaphore in a file that an unrelated process maps at its own
 * address: usable there only once declared. */
TEST(in_place_undo_semaphore_elsewhere_needs_attach) {
    char name[64];
    mpt_name(name, sizeof name, "attach");
    mp_sem_t *s = mpt_map_file(name + 1, MP_SEM_UNDO_SIZE, 1);
    CHECK_OK(mp_sem_init_ex(s, 2, 2, MP_SEM_UNDO));
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        /* The fork() child inherits the declaration of `s`. */
        uint32_t v = 0;
        CHECK_OK(mp_sem_get_value(s, &v));
        CHECK(v == 2);
        /* A second mapping of the same bytes is another address: undeclared. */
        mp_sem_t *t = mpt_map_file(name + 1, MP_SEM_UNDO_SIZE, 0);
        CHECK_ST(mp_sem_get_value(t, &v), MP_EBADOBJ);
        CHECK_ST(mp_sem_acquire(t, false, 0), MP_EBADOBJ);
        CHECK_ST(mp_sem_attach_ex(NULL, MP_SEM_UNDO), MP_EINVAL);
        CHECK_ST(mp_sem_attach_ex(t, 2), MP_EINVAL);
        CHECK_ST(mp_sem_attach_ex(t, 0), MP_EBADOBJ); /* not a plain semaphore */
        CHECK_OK(mp_sem_attach_ex(t, MP_SEM_UNDO));
        CHECK_OK(mp_sem_attach_ex(t, MP_SEM_UNDO)); /* idempotent */
        CHECK_OK(mp_sem_acquire(t, false, 0));
        CHECK_OK(mp_sem_get_value(s, &v));
        CHECK(v == 1);
        CHECK_OK(mp_sem_held(t, &v));
        CHECK(v == 1);
        CHECK_OK(mp_sem_release(t));
        /* Withdrawn: undeclared again. */
        CHECK_OK(mp_sem_attach_ex(t, 0));
        CHECK_ST(mp_sem_get_value(t, &v), MP_EBADOBJ);
        CHECK_ST(mp_sem_attach_ex(t, 0), MP_EBADOBJ); /* nothing left to withdraw */
        munmap(t, MP_SEM_UNDO_SIZE);
        _exit(0);
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    uint32_t v = 0;
    CHECK_OK(mp_sem_get_value(s, &v));
    CHECK(v == 2);
    CHECK_OK(mp_sem_destroy(s));
    mpt_unlink_file(name + 1);
    munmap(s, MP_SEM_UNDO_SIZE);
}
