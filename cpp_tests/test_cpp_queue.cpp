// mpsync::queue: byte messages across fork()ed processes (pointer + size, std::vector,
// and std::span under C++20), timed tries, batches, errors as exceptions naming the
// queue (too big, too small a buffer, end of stream), named queues, task_done/join,
// join after a consumer's SIGKILL.
#include "cpptest.hpp"

#include <cstring>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

TEST(queue_moves_messages_between_processes) {
    mpsync::queue q(4096);
    pid_t kid = cpt::fork_child([&] {
        for (int i = 0; i < 1000; i++) {
            std::string msg = "message " + std::to_string(i);
            q.put(msg.data(), msg.size());
        }
        return 0;
    });
    char buf[64];
    for (int i = 0; i < 1000; i++) {
        std::size_t n = q.get(buf, sizeof buf);
        CHECK(std::string(buf, n) == "message " + std::to_string(i));
    }
    CHECK(cpt::wait_child(kid) == 0);
    CHECK(q.size() == 0 && q.capacity() == 4096);
}

TEST(queue_timed_tries_vectors_and_batches) {
    mpsync::queue q(64);
    char buf[64];
    CHECK(!q.try_get(buf, sizeof buf));
    CHECK(!q.try_get_for(buf, sizeof buf, 10ms));
    const char *msgs[2] = {"ab", "cde"};
    std::size_t lens[2] = {2, 3};
    q.put_many(reinterpret_cast<const void *const *>(msgs), lens, 2);
    std::vector<std::byte> v;  // empty: get() grows it
    q.get(v);
    CHECK(v.size() == 2 && std::memcmp(v.data(), "ab", 2) == 0);
    CHECK(q.get().size() == 3);
    CHECK(q.try_put("x", 1));
    CHECK(q.try_get(buf, sizeof buf) == std::optional<std::size_t>(1));
    std::string fill(56, 'f');
    CHECK(q.try_put(fill.data(), fill.size()));
    CHECK(!q.try_put("y", 1));
    CHECK(!q.try_put_for("y", 1, 10ms));
#ifdef MPSYNC_HPP_HAS_SPAN
    std::byte out[64];
    auto got = q.get(std::span<std::byte>(out));
    CHECK(got.size() == 56);
    const std::byte one[1] = {std::byte{7}};
    q.put(std::span<const std::byte>(one));
    CHECK(q.get(std::span<std::byte>(out)).size() == 1 && out[0] == std::byte{7});
#else
    CHECK(q.get(buf, sizeof buf) == 56);
#endif
}

TEST(queue_errors_name_the_queue_and_the_reason) {
    mpsync::queue q(16);
    std::string big(13, 'b');
    CHECK_CONTAINS(WHAT_OF(q.put(big.data(), big.size()), MP_EMSGSIZE), "mpsync::queue (anonymous): put");
    q.put("hello", 5);
    char small[2];
    CHECK_CONTAINS(WHAT_OF(q.get(small, sizeof small), MP_EBUFSIZE), "the message has 5 bytes");
    CHECK(q.size() == 1);  // nothing consumed
    q.close_producer();
    CHECK_THROWS_STATUS(q.put("x", 1), MP_ECLOSED);
    char buf[8];
    CHECK(q.get(buf, sizeof buf) == 5);
    CHECK_THROWS_STATUS(q.get(buf, sizeof buf), MP_ECLOSED);
    CHECK_THROWS_STATUS(mpsync::queue(4), MP_EINVAL);
}

TEST(queue_named_and_joinable) {
    std::string name = cpt::name("queue");
    auto a = mpsync::queue::open(name.c_str(), mpsync::create_only, 0600, 256);
    auto b = mpsync::queue::open(name.c_str(), mpsync::open_existing, 0, 0);
    CHECK(b.capacity() == 256);
    CHECK_THROWS_STATUS(mpsync::queue::open(name.c_str(), mpsync::open_existing, 0, 128), MP_EBADOBJ);
    a.put("job", 3);
    CHECK(!a.join_for(10ms));
    pid_t kid = cpt::fork_child([&] {
        char buf[8];
        b.get(buf, sizeof buf);
        b.task_done();
        return 0;
    });
    a.join();
    CHECK(cpt::wait_child(kid) == 0);
    CHECK_THROWS_STATUS(a.task_done(), MP_EOVERFLOW);
    mpsync::queue::unlink(name.c_str());
}

TEST(queue_join_returns_when_the_consumer_is_killed) {
    mpsync::queue q(256);
    q.put("a", 1);
    q.put("b", 1);
    int ready[2];
    CHECK(pipe(ready) == 0);
    pid_t kid = cpt::fork_child([&] {
        char buf[8];
        q.get(buf, sizeof buf);
        q.get(buf, sizeof buf);
        CHECK(write(ready[1], "r", 1) == 1);
        for (;;) pause();  // holds both until killed
        return 0;
    });
    char r;
    CHECK(read(ready[0], &r, 1) == 1);
    CHECK(!q.join_for(10ms));  // a live consumer's messages are waited for
    CHECK(kill(kid, SIGKILL) == 0);
    int st;
    CHECK(waitpid(kid, &st, 0) == kid);
    CHECK(q.join_for(60s));  // the dead consumer's messages are abandoned
    CHECK(q.abandoned() == 2);
    q.join();
    close(ready[0]);
    close(ready[1]);
}

}  // namespace
