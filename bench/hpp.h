/* Rows for the C++ API (hpp.cpp, mpsync.hpp): the same acquire+release pairs as the
 * mp_lock / mp_rlock rows, written as a C++ user would (`m.lock(); m.unlock();` on an
 * mpsync::mutex / mpsync::recursive_mutex), the loop compiled inside C++ so that the
 * wrappers inline exactly as in user code. Objects are in-place C objects in a
 * MAP_SHARED mapping, viewed through mpsync::*::attach. Built when a C++ compiler
 * exists (HAVE_HPP). */
#ifndef MPBENCH_HPP_H
#define MPBENCH_HPP_H
#ifdef __cplusplus
extern "C" {
#endif
void hpp_mutex_pairs(void *mem, long n);
void hpp_recursive_mutex_pairs(void *mem, long n);
#ifdef __cplusplus
}
#endif
#endif
