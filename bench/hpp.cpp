// mpsync.hpp rows for the uncontended benchmark (see hpp.h).
#include "hpp.h"

#include <mpsync.hpp>

extern "C" {

void hpp_mutex_pairs(void *mem, long n) {
    auto m = mpsync::mutex::attach(*static_cast<mp_lock_t *>(mem));
    for (long i = 0; i < n; i++) {
        m.lock();
        m.unlock();
    }
}

void hpp_recursive_mutex_pairs(void *mem, long n) {
    auto m = mpsync::recursive_mutex::attach(*static_cast<mp_rlock_t *>(mem));
    for (long i = 0; i < n; i++) {
        m.lock();
        m.unlock();
    }
}

}  // extern "C"
