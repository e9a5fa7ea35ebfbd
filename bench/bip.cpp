// Boost.Interprocess anonymous primitives for the uncontended rows (see bip.h).
#include "bip.h"

#include <boost/interprocess/sync/interprocess_mutex.hpp>
#include <boost/interprocess/sync/interprocess_recursive_mutex.hpp>
#include <boost/interprocess/sync/interprocess_semaphore.hpp>
#include <boost/version.hpp>
#include <new>

namespace bi = boost::interprocess;

// n uncontended lock()/unlock() pairs on the mutex of type M constructed at `mem`.
template <class M>
static void lock_unlock_pairs(void *mem, long n) {
    M *m = static_cast<M *>(mem);
    for (long i = 0; i < n; i++) {
        m->lock();
        m->unlock();
    }
}

extern "C" {

int bip_version(void) { return BOOST_VERSION; }

size_t bip_mutex_size(void) { return sizeof(bi::interprocess_mutex); }
void bip_mutex_init(void *mem) { new (mem) bi::interprocess_mutex(); }
void bip_mutex_pairs(void *mem, long n) { lock_unlock_pairs<bi::interprocess_mutex>(mem, n); }

size_t bip_recursive_mutex_size(void) { return sizeof(bi::interprocess_recursive_mutex); }
void bip_recursive_mutex_init(void *mem) { new (mem) bi::interprocess_recursive_mutex(); }
void bip_recursive_mutex_pairs(void *mem, long n) {
    lock_unlock_pairs<bi::interprocess_recursive_mutex>(mem, n);
}

size_t bip_semaphore_size(void) { return sizeof(bi::interprocess_semaphore); }
void bip_semaphore_init(void *mem, unsigned value) { new (mem) bi::interprocess_semaphore(value); }
void bip_semaphore_pairs(void *mem, long n) {
    bi::interprocess_semaphore *s = static_cast<bi::interprocess_semaphore *>(mem);
    for (long i = 0; i < n; i++) {
        s->wait();
        s->post();
    }
}

}  // extern "C"
