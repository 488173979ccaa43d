// SPDX-License-Identifier: MIT
// Every symbol libnumakeep.so interposes, and nothing else.
//
// Each shim only decodes its arguments and hands them to its on_*()
// function in intercepted_calls.cpp, which takes the reentrancy guard,
// holds the record lock across the real call, records a success, and
// returns the real call's value with its errno.
//
// Adding an interposer:
//  1. declare the next definition in real_calls.hpp and look it up in
//     real::resolve() (with a raw-syscall fallback when it is one);
//  2. write on_<name>() in intercepted_calls.cpp (record only on success,
//     keep errno, forward untouched when ReentrancyGuard::active());
//  3. add the shim below with NUMAKEEP_EXPORT and the exact C prototype;
//  4. list the name in libnumakeep.map (everything else stays local);
//  5. if the call also exists as a syscall() number, route it in
//     on_syscall();
//  6. add a tests/host/runtime program for it (plain, under the preload,
//     from another library's constructor, across fork and threads).
// No <sys/mman.h> here: with _FILE_OFFSET_BITS=64 it renames mmap to
// mmap64 and our two definitions would collide.
#include <numaif.h>
#include <pthread.h>
#include <sys/shm.h>

#include <cstdarg>

#include "intercepted_calls.hpp"
#include "record_ops.hpp"

#define NUMAKEEP_EXPORT __attribute__((visibility("default")))

using numakeep::preload::Via;
namespace np = numakeep::preload;

extern "C" {

NUMAKEEP_EXPORT long mbind(void* start, unsigned long len, int mode, const unsigned long* nodemask,
                           unsigned long maxnode, unsigned flags) {
    return np::on_mbind(Via::NextDefinition, start, len, mode, nodemask, maxnode, flags);
}

NUMAKEEP_EXPORT long set_mempolicy(int mode, const unsigned long* nodemask, unsigned long maxnode) {
    return np::on_set_mempolicy(Via::NextDefinition, mode, nodemask, maxnode);
}

NUMAKEEP_EXPORT long get_mempolicy(int* mode, unsigned long* nodemask, unsigned long maxnode,
                                   void* addr, unsigned flags) {
    return np::on_get_mempolicy(Via::NextDefinition, mode, nodemask, maxnode, addr, flags);
}

// No Debian library defines it yet (programs use syscall()); a future
// libnuma's wrapper is caught here.
NUMAKEEP_EXPORT long set_mempolicy_home_node(unsigned long start, unsigned long len,
                                             unsigned long home_node, unsigned long flags) {
    return np::on_set_mempolicy_home_node(Via::NextDefinition, start, len, home_node, flags);
}

NUMAKEEP_EXPORT int munmap(void* addr, size_t len) {
    return np::on_munmap(Via::NextDefinition, addr, len);
}

// The fifth argument exists only with MREMAP_FIXED, exactly as glibc's
// own mremap reads it.
NUMAKEEP_EXPORT void* mremap(void* old, size_t old_len, size_t new_len, int flags, ...) {
    void* new_addr = nullptr;
    if (flags & np::kMremapFixed) {
        va_list ap;
        va_start(ap, flags);
        new_addr = va_arg(ap, void*);
        va_end(ap);
    }
    return np::on_mremap(Via::NextDefinition, old, old_len, new_len, flags, new_addr);
}

NUMAKEEP_EXPORT void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
    return np::on_mmap(Via::NextDefinition, false, addr, len, prot, flags, fd, off);
}

NUMAKEEP_EXPORT void* mmap64(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
    return np::on_mmap(Via::NextDefinition, true, addr, len, prot, flags, fd, off);
}

NUMAKEEP_EXPORT int shmdt(const void* addr) {
    return np::on_shmdt(Via::NextDefinition, addr);
}

// syscall(2) is variadic; every caller passes at most six arguments and the
// x86-64/arm64 ABIs let us read six whatever was passed.
NUMAKEEP_EXPORT long syscall(long nr, ...) {
    va_list ap;
    va_start(ap, nr);
    long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
    long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
    va_end(ap);
    return np::on_syscall(nr, a1, a2, a3, a4, a5, a6);
}

// fork's own discipline is in fork_handlers.cpp (pthread_atfork); this
// shim only starts the child's agent once fork has returned.
NUMAKEEP_EXPORT pid_t fork() {
    return np::on_fork();
}

NUMAKEEP_EXPORT int pthread_create(pthread_t* thread, const pthread_attr_t* attr,
                                   void* (*fn)(void*), void* arg) {
    return np::on_pthread_create(thread, attr, fn, arg);
}

}  // extern "C"
