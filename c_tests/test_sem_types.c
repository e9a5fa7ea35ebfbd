/* mp_sem_t and mp_sem_undo_t are two types: each family's calls refuse the other's
 * objects (MP_EBADOBJ, out-parameters untouched, the object unchanged), in place, as
 * anonymous handles and by name. The size of an undo semaphore is its C type's, so no
 * call takes it from shared memory: a peer that rewrites a plain semaphore's kind tag to
 * the undo kind only breaks that semaphore (its users get MP_EBADOBJ), and nothing reads
 * past it. An in-place undo semaphore is used by any process that maps it, at any
 * address, with no declaration step. Real fork()ed peers and victims. */
#include "mptest.h"
#include "mpt_util.h"

/* The kind byte of the shared header (little-endian tag word at offset 4). */
#define KIND_BYTE 4
#define KIND_SEM_UNDO 8

/* Every plain-semaphore call on `s` (not a plain semaphore) is MP_EBADOBJ. */
static void plain_calls_are_ebadobj(mp_sem_t *s) {
    uint32_t u = 12345;
    CHECK_ST(mp_sem_acquire(s, false, 0), MP_EBADOBJ);
    CHECK_ST(mp_sem_acquire(s, true, 50), MP_EBADOBJ);
    CHECK_ST(mp_sem_release(s), MP_EBADOBJ);
    CHECK_ST(mp_sem_get_value(s, &u), MP_EBADOBJ);
    CHECK_ST(mp_sem_get_max_value(s, &u), MP_EBADOBJ);
    CHECK(u == 12345); /* out-parameters untouched */
    CHECK_ST(mp_sem_destroy(s), MP_EBADOBJ);
}

/* Every undo-semaphore call on `s` (memory of MP_SEM_UNDO_SIZE bytes that is not an undo
 * semaphore) is MP_EBADOBJ. */
static void undo_calls_are_ebadobj(mp_sem_undo_t *s) {
    uint32_t u = 12345;
    CHECK_ST(mp_sem_undo_acquire(s, false, 0), MP_EBADOBJ);
    CHECK_ST(mp_sem_undo_acquire(s, true, 50), MP_EBADOBJ);
    CHECK_ST(mp_sem_undo_release(s), MP_EBADOBJ);
    CHECK_ST(mp_sem_undo_get_value(s, &u), MP_EBADOBJ);
    CHECK_ST(mp_sem_undo_get_max_value(s, &u), MP_EBADOBJ);
    CHECK_ST(mp_sem_undo_held(s, &u), MP_EBADOBJ);
    CHECK(u == 12345);
    CHECK_ST(mp_sem_undo_destroy(s), MP_EBADOBJ);
}

/* Runs `calls` on `s` in a fork()ed victim (so that a crash is reported as such), then
 * in this process too. */
static void victims(void (*calls)(mp_sem_t *), mp_sem_t *s) {
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        calls(s);
        _exit(0);
    }
    mpt_wait_ok(pid); /* a crash in the victim is named with its signal */
    calls(s);
}

static uint32_t undo_value(mp_sem_undo_t *u) { return MPT_U32(mp_sem_undo_get_value, u); }

TEST(plain_calls_refuse_an_undo_semaphore_in_place_anonymous_and_named) {
    mp_sem_undo_t *u = mpt_shared(sizeof *u);
    CHECK_OK(mp_sem_undo_init(u, 2, 2));
    CHECK_OK(mp_sem_undo_acquire(u, false, 0));
    victims(plain_calls_are_ebadobj, (mp_sem_t *)u);
    CHECK(undo_value(u) == 1); /* unchanged, the unit still ours */
    CHECK_OK(mp_sem_undo_release(u));
    CHECK_OK(mp_sem_undo_destroy(u));

    mp_sem_undo_t *h = NULL;
    CHECK_OK(mp_sem_undo_new(1, 1, &h));
    victims(plain_calls_are_ebadobj, (mp_sem_t *)h);
    CHECK_ST(mp_sem_close((mp_sem_t *)h), MP_EBADOBJ); /* another type's handle */
    CHECK(undo_value(h) == 1);
    CHECK_OK(mp_sem_undo_close(h));

    char name[64];

    mpt_name(name, sizeof name, "types");
    CHECK_OK(mp_sem_undo_open(name, MP_CREATE | MP_EXCL, 0600, 1, 1, &h));
    mp_sem_t *p = NULL;
    CHECK_ST(mp_sem_open(name, 0, 0, 0, 1, &p), MP_EBADOBJ);
    CHECK(p == NULL);
    CHECK_OK(mp_sem_undo_close(h));
    CHECK_OK(mp_unlink(name));
}

static void undo_calls_on(mp_sem_t *s) { undo_calls_are_ebadobj((mp_sem_undo_t *)s); }

TEST(undo_calls_refuse_a_plain_semaphore) {
    /* In place, at the start of memory large enough for either type. */
    mp_sem_undo_t *mem = mpt_shared(sizeof *mem);
    mp_sem_t *s = (mp_sem_t *)mem;
    CHECK_OK(mp_sem_init(s, 1, 1));
    victims(undo_calls_on, s);
    CHECK_ST(mp_sem_undo_detach(mem), MP_OK); /* reads nothing of the object */
    uint32_t v = 0;
    CHECK_OK(mp_sem_get_value(s, &v));
    CHECK(v == 1);
    CHECK_OK(mp_sem_destroy(s));
    /* A plain handle (one page) given to the undo family: close and open decide from the
     * registry and the header, and refuse. */
    mp_sem_t *h = NULL;
    CHECK_OK(mp_sem_new(1, 1, &h));
    CHECK_ST(mp_sem_undo_close((mp_sem_undo_t *)h), MP_EBADOBJ);
    CHECK_OK(mp_sem_close(h));
    char name[64];
    mpt_name(name, sizeof name, "types-plain");
    CHECK_OK(mp_sem_open(name, MP_CREATE | MP_EXCL, 0600, 1, 1, &h));
    mp_sem_undo_t *u = NULL;
    CHECK_ST(mp_sem_undo_open(name, 0, 0, 0, 1, &u), MP_EBADOBJ);
    CHECK(u == NULL);
    CHECK_OK(mp_sem_close(h));
    CHECK_OK(mp_unlink(name));
}

/* A peer process rewrites the kind tag of the plain semaphore at `p` to the undo kind. */
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

TEST(a_plain_semaphore_flipped_to_the_undo_kind_is_ebadobj_and_read_no_further) {
    /* The semaphore ends exactly where readable memory ends: any byte past MP_SEM_SIZE
     * is a guard page. */
    long page = sysconf(_SC_PAGESIZE);
    unsigned char *mem = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(mem != MAP_FAILED);
    CHECK(mprotect(mem + page, (size_t)page, PROT_NONE) == 0);
    mp_sem_t *s = (mp_sem_t *)(mem + page - MP_SEM_SIZE);
    CHECK_OK(mp_sem_init(s, 1, 1));
    peer_flips_kind((volatile unsigned char *)s);
    victims(plain_calls_are_ebadobj, s);
    CHECK_ST(mp_sem_close(s), MP_EBADOBJ);
    munmap(mem, 2 * (size_t)page);
    /* A named one, flipped through the peer's own mapping of the file. */
    char name[64];
    mpt_name(name, sizeof name, "flip");
    CHECK_OK(mp_sem_open(name, MP_CREATE | MP_EXCL, 0600, 1, 1, &s));
    unsigned char *peer = mpt_map_file(name + 1, MP_SEM_SIZE, 0);
    peer_flips_kind(peer);
    victims(plain_calls_are_ebadobj, s);
    mp_sem_t *b = NULL;
    CHECK_ST(mp_sem_open(name, 0, 0, 0, 1, &b), MP_EBADOBJ);
    /* Nor does the undo family take it: the mapping is one page, recorded as a plain
     * semaphore (opening checks the file's size against the undo type's, and the kind). */
    mp_sem_undo_t *u = NULL;
    CHECK_ST(mp_sem_undo_open(name, 0, 0, 0, 1, &u), MP_EBADOBJ);
    CHECK_OK(mp_sem_close(s)); /* the registry knows the handle */
    CHECK_OK(mp_unlink(name));
    munmap(peer, MP_SEM_SIZE);
}

/* An in-place undo semaphore in a file that an unrelated process maps at its own address:
 * usable there as it is, no declaration step; its fork() child too. */
TEST(in_place_undo_semaphore_is_used_at_any_address) {
    char name[64];
    mpt_name(name, sizeof name, "anyaddr");
    mp_sem_undo_t *s = mpt_map_file(name + 1, sizeof *s, 1);
    CHECK_OK(mp_sem_undo_init(s, 2, 2));
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        CHECK(undo_value(s) == 2);
        mp_sem_undo_t *t = mpt_map_file(name + 1, sizeof *t, 0);
        CHECK(t != s);
        CHECK_OK(mp_sem_undo_acquire(t, false, 0));
        CHECK(undo_value(s) == 1);
        uint32_t v = 0;
        CHECK_OK(mp_sem_undo_held(t, &v));
        CHECK(v == 1);
        CHECK_OK(mp_sem_undo_release(s)); /* matched by thread, whichever address */
        CHECK_OK(mp_sem_undo_detach(t));
        munmap(t, sizeof *t);
        _exit(0);
    }
    mpt_wait_ok(pid);
    CHECK(undo_value(s) == 2);
    CHECK_OK(mp_sem_undo_destroy(s));
    mpt_unlink_file(name + 1);
    munmap(s, sizeof *s);
}
