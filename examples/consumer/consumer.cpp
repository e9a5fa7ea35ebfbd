// The C++ counterpart of consumer.c: built against an *installed* libmpsync with
// find_package(mpsync) (CMakeLists.txt here) or pkg-config, by .ci/cmake-consume.sh.
// It checks that the installed mpsync.hpp compiles as C++17 and that its wrappers work
// across fork().
#include <mpsync.hpp>

#include <chrono>
#include <cstdio>
#include <mutex>

#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const char *how = argc > 1 ? argv[1] : "C++ consumer";
    try {
        auto lock = mpsync::mutex::anonymous();
        std::unique_lock<mpsync::mutex> held(lock);
        pid_t pid = fork();
        if (pid == 0) _exit(lock.try_lock_for(std::chrono::milliseconds(10)) ? 1 : 0);
        int st = 0;
        if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            std::fprintf(stderr, "%s: the child did not see the parent's lock as held\n", how);
            return 1;
        }
        held.unlock();
        try {
            mpsync::event::open("/mpsync-consumer-no-such-name", mpsync::open_existing);
            return 1;
        } catch (const mpsync::error &e) {
            if (e.code() != mpsync::errc::enoent) return 1;
        }
        std::printf("%s: libmpsync %s works from C++\n", how, mp_version_string());
        return 0;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "%s: %s\n", how, e.what());
        return 1;
    }
}
