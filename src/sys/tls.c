/*
 * The calling thread's libmpsync slot, in static ("initial-exec") TLS.
 *
 * Why C: RLock acquire and release must know the calling thread on every call, and Rust's
 * stable `thread_local!` in a shared library compiles to the general-dynamic TLS model
 * (a `__tls_get_addr` call plus lazy-init checks: ~60 instructions per acquire/release
 * pair, measured with callgrind). Initial-exec TLS is one %fs-relative access. The slot
 * is 64 bytes, well inside glibc's static-TLS surplus reserved for dlopen()ed libraries.
 *
 * The slot is zero in a new thread ("not initialised"); src/sys/thread.rs gives it a type.
 */
struct mpsync_thread_slot {
    unsigned char bytes[64];
} __attribute__((aligned(16)));

/* Not static: on x86_64, src/sys/thread.rs reads it with an inline initial-exec access
 * (no call at all). Hidden: it is not part of the library's ABI. */
__attribute__((visibility("hidden"))) __thread struct mpsync_thread_slot mpsync_slot
    __attribute__((tls_model("initial-exec")));

__attribute__((visibility("hidden"))) void *mpsync_thread_slot(void) {
    return &mpsync_slot;
}
