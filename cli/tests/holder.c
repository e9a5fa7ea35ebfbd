/* A C program that uses libmpsync's named objects, for the mpsync CLI tests
 * (cli/tests/cli.rs compiles it against include/mpsync.h and libmpsync.so).
 *
 *   holder rlock NAME         acquire the RLock, print "held <pid>" (and " owner-dead" if
 *                             the acquire got MP_OWNER_DEAD), wait for stdin EOF,
 *                             release, exit 0 (SIGKILL it to leave a dead owner)
 *   holder lock NAME          the same with a Lock
 *   holder map NAME           map the SharedMemory block, print "mapped <pid>", wait for
 *                             stdin EOF
 *   holder undo NAME N        acquire N units of the undo semaphore, print "held <pid>"
 *                             (and " owner-dead" if an acquire got MP_OWNER_DEAD), wait
 *                             for stdin EOF, release them (SIGKILL it to leave a dead
 *                             holder)
 *   holder critical NAME LOG N
 *                             N times: acquire the RLock, append "S c<pid>" to LOG,
 *                             sleep 30 ms, append "E c<pid>", release
 * Exit status 0 on success, 2 on bad arguments, 3 on a library error.
 */
#include <mpsync.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Prints "<what> <pid>" (and " owner-dead"), then waits for stdin EOF. */
static void announce_and_wait_eof(const char *what, bool owner_dead) {
    printf("%s %d%s\n", what, (int)getpid(), owner_dead ? " owner-dead" : "");
    fflush(stdout);
    char buf[64];
    while (read(0, buf, sizeof buf) > 0) {
    }
}

static int fail(const char *what, mp_status st) {
    fprintf(stderr, "holder: %s: %s\n", what, mp_status_name(st));
    return 3;
}

static mp_status acquire(mp_rlock_t *l) {
    mp_status st;
    do st = mp_rlock_acquire(l, true, MP_FOREVER);
    while (st == MP_EINTR);
    return st;
}

static void append(const char *log, const char *line) {
    FILE *f = fopen(log, "a");
    if (f) {
        fprintf(f, "%s c%d\n", line, (int)getpid());
        fclose(f);
    }
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    const char *mode = argv[1], *name = argv[2];
    if (strcmp(mode, "rlock") == 0) {
        mp_rlock_t *l;
        mp_status st = mp_rlock_open(name, 0, 0, &l);
        if (st != MP_OK) return fail("open", st);
        st = acquire(l);
        if (st != MP_OK && st != MP_OWNER_DEAD) return fail("acquire", st);
        announce_and_wait_eof("held", st == MP_OWNER_DEAD);
        mp_rlock_release(l);
        return mp_rlock_close(l) == MP_OK ? 0 : 3;
    }
    if (strcmp(mode, "lock") == 0) {
        mp_lock_t *l;
        mp_status st = mp_lock_open(name, 0, 0, &l);
        if (st != MP_OK) return fail("open", st);
        do st = mp_lock_acquire(l, true, MP_FOREVER);
        while (st == MP_EINTR);
        if (st != MP_OK) return fail("acquire", st);
        announce_and_wait_eof("held", false);
        mp_lock_release(l);
        return mp_lock_close(l) == MP_OK ? 0 : 3;
    }
    if (strcmp(mode, "map") == 0) {
        mp_shm_t *s;
        mp_status st = mp_shm_open(name, 0, 0, 0, &s);
        if (st != MP_OK) return fail("open", st);
        announce_and_wait_eof("mapped", false);
        return mp_shm_close(s) == MP_OK ? 0 : 3;
    }
    if (strcmp(mode, "undo") == 0 && argc == 4) {
        mp_sem_undo_t *s;
        mp_status st = mp_sem_undo_open(name, 0, 0, 0, 1, &s);
        if (st != MP_OK) return fail("open", st);
        int n = atoi(argv[3]);
        bool owner_dead = false;
        for (int i = 0; i < n; i++) {
            do st = mp_sem_undo_acquire(s, true, MP_FOREVER);
            while (st == MP_EINTR);
            if (st != MP_OK && st != MP_OWNER_DEAD) return fail("acquire", st);
            owner_dead |= st == MP_OWNER_DEAD;
        }
        announce_and_wait_eof("held", owner_dead);
        for (int i = 0; i < n; i++)
            if ((st = mp_sem_undo_release(s)) != MP_OK) return fail("release", st);
        return mp_sem_undo_close(s) == MP_OK ? 0 : 3;
    }
    if (strcmp(mode, "critical") == 0 && argc == 5) {
        mp_rlock_t *l;
        mp_status st = mp_rlock_open(name, 0, 0, &l);
        if (st != MP_OK) return fail("open", st);
        int n = atoi(argv[4]);
        for (int i = 0; i < n; i++) {
            st = acquire(l);
            if (st != MP_OK) return fail("acquire", st);
            append(argv[3], "S");
            struct timespec ts = {0, 30 * 1000 * 1000};
            nanosleep(&ts, NULL);
            append(argv[3], "E");
            mp_rlock_release(l);
        }
        return mp_rlock_close(l) == MP_OK ? 0 : 3;
    }
    return 2;
}
