// SPDX-License-Identifier: MIT
// What each interposed call does around the real one: take the reentrancy
// guard, hold the record lock across the real call, record a success, keep
// the real call's return value and errno. shims.cpp only decodes arguments
// and calls these.
#pragma once

#include <pthread.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include "raw_syscall.hpp"
#include "real_calls.hpp"
#include "record_keeper.hpp"
#include "reentrancy_guard.hpp"

namespace numakeep::preload {

// Where the real call goes: the next definition (libnuma's mbind, libc's
// munmap), or the kernel directly (the program called syscall()).
enum class Via { NextDefinition, Kernel };

// The one call of a hot loop (libnuma's numa_tonode_memory, allocators):
// `via` is a template argument so that the shim's call of it, six
// arguments in registers, is a tail jump. Every frame still on the stack
// when the system call returns costs a mispredicted return (the kernel's
// own calls have overwritten the return stack buffer).
template <Via via>
long on_mbind(void* start, unsigned long len, int mode, const unsigned long* nodemask,
              unsigned long maxnode, unsigned flags);
long on_set_mempolicy(Via via, int mode, const unsigned long* nodemask, unsigned long maxnode);
long on_set_mempolicy_home_node(Via via, unsigned long start, unsigned long len,
                                unsigned long home_node, unsigned long flags);
long on_get_mempolicy(Via via, int* mode, unsigned long* nodemask, unsigned long maxnode,
                      void* addr, unsigned long flags);
// munmap of memory that may hold records (out of line).
int munmap_tracked(Via via, void* addr, std::size_t len);
// Inline into the shim: an untracked munmap (the common case) reads one
// cache line of ours (may_be_tracked()'s hints) and jumps on to libc's,
// with no frame of ours left below the system call.
inline int on_munmap(Via via, void* addr, std::size_t len) {
    const auto start = reinterpret_cast<std::uint64_t>(addr);
    if (may_be_tracked(start, len) && !ReentrancyGuard::active())
        return munmap_tracked(via, addr, len);
    return via == Via::NextDefinition ? real::munmap(addr, len)
                                      : static_cast<int>(libc_result(raw(SYS_munmap, addr, len)));
}
void* on_mremap(Via via, void* old, std::size_t old_len, std::size_t new_len, int flags,
                void* new_addr);
void* on_mmap(Via via, bool mmap64, void* addr, std::size_t len, int prot, int flags, int fd,
              off_t off);
int on_shmdt(Via via, const void* addr);
// The program's syscall(nr, ...) (the shim issues the runtime's own itself):
// the numbers above go to their handlers, others to libc.
long on_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6);
pid_t on_fork();
int on_pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*fn)(void*), void* arg);

}  // namespace numakeep::preload
