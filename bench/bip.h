/* Boost.Interprocess rows (bip.cpp, C++, header-only Boost). Each *_pairs function runs
 * the whole acquire+release loop inside C++ so that Boost's inline wrappers are
 * measured exactly as a C++ user would call them. Objects are placement-constructed
 * in caller memory (a MAP_SHARED mapping), as Boost's anonymous primitives are meant
 * to be used. Compiled only when the Boost headers exist (HAVE_BOOST). */
#ifndef MPBENCH_BIP_H
#define MPBENCH_BIP_H
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif
/* Boost version (BOOST_VERSION, e.g. 107400). */
int bip_version(void);
size_t bip_mutex_size(void);
void bip_mutex_init(void *mem);
void bip_mutex_pairs(void *mem, long n);
size_t bip_recursive_mutex_size(void);
void bip_recursive_mutex_init(void *mem);
void bip_recursive_mutex_pairs(void *mem, long n);
size_t bip_semaphore_size(void);
void bip_semaphore_init(void *mem, unsigned value);
void bip_semaphore_pairs(void *mem, long n);
#ifdef __cplusplus
}
#endif
#endif
