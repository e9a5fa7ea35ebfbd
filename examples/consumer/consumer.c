/*
 * A minimal program built against an *installed* libmpsync, the way a user would:
 * with find_package(mpsync) (CMakeLists.txt here) or with pkg-config. .ci/cmake-consume.sh
 * builds and runs it. It checks that header and library agree, and that a lock works
 * across fork().
 */
#define _POSIX_C_SOURCE 200809L
#include <mpsync.h>

#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXPECT(expr, want)                                                                       \
    do {                                                                                         \
        mp_status got_ = (expr);                                                                 \
        if (got_ != (want)) {                                                                    \
            fprintf(stderr, "consumer: %s returned %s, expected %s\n", #expr, mp_status_name(got_), \
                    mp_status_name(want));                                                       \
            return 1;                                                                            \
        }                                                                                        \
    } while (0)

int main(int argc, char **argv) {
    const char *how = argc > 1 ? argv[1] : "consumer";
    if (mp_version() != MP_VERSION) {
        fprintf(stderr, "consumer: library %s does not match header %d.%d.%d\n", mp_version_string(),
                MP_VERSION_MAJOR, MP_VERSION_MINOR, MP_VERSION_PATCH);
        return 1;
    }
    mp_lock_t *lock;
    EXPECT(mp_lock_new(&lock), MP_OK);
    EXPECT(mp_lock_acquire(lock, true, MP_FOREVER), MP_OK);
    pid_t pid = fork();
    if (pid == 0) _exit(mp_lock_acquire(lock, true, 10) == MP_TIMEOUT ? 0 : 1);
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "consumer: the child did not see the parent's lock as held\n");
        return 1;
    }
    EXPECT(mp_lock_release(lock), MP_OK);
    EXPECT(mp_lock_close(lock), MP_OK);
    EXPECT(mp_lock_release(NULL), MP_EINVAL);
    printf("%s: libmpsync %s works\n", how, mp_version_string());
    return 0;
}
