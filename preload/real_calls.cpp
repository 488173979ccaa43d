// SPDX-License-Identifier: MIT
#include "real_calls.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <atomic>

#include "raw_syscall.hpp"

namespace numakeep::preload::real {
namespace {

using MbindFn = long (*)(void*, unsigned long, int, const unsigned long*, unsigned long, unsigned);
using SetMempolicyFn = long (*)(int, const unsigned long*, unsigned long);
using GetMempolicyFn = long (*)(int*, unsigned long*, unsigned long, void*, unsigned);
using HomeNodeFn = long (*)(unsigned long, unsigned long, unsigned long, unsigned long);
using MunmapFn = int (*)(void*, std::size_t);
using MremapFn = void* (*)(void*, std::size_t, std::size_t, int, ...);
using MmapFn = void* (*)(void*, std::size_t, int, int, int, off_t);
using ShmdtFn = int (*)(const void*);
using SyscallFn = long (*)(long, ...);
using ForkFn = pid_t (*)();
using PthreadCreateFn = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
using ExecveFn = int (*)(const char*, char* const*, char* const*);
using FexecveFn = int (*)(int, char* const*, char* const*);
using ExecveatFn = int (*)(int, const char*, char* const*, char* const*, int);

// Written once by resolve() (under pthread_once), read by every thread.
std::atomic<MbindFn> g_mbind{nullptr};
std::atomic<SetMempolicyFn> g_set_mempolicy{nullptr};
std::atomic<GetMempolicyFn> g_get_mempolicy{nullptr};
std::atomic<HomeNodeFn> g_home_node{nullptr};
std::atomic<MunmapFn> g_munmap{nullptr};
std::atomic<MremapFn> g_mremap{nullptr};
std::atomic<MmapFn> g_mmap{nullptr};
std::atomic<MmapFn> g_mmap64{nullptr};
std::atomic<ShmdtFn> g_shmdt{nullptr};
std::atomic<SyscallFn> g_syscall{nullptr};
std::atomic<PthreadCreateFn> g_pthread_create{nullptr};
std::atomic<ForkFn> g_fork{nullptr};
std::atomic<ExecveFn> g_execve{nullptr};
std::atomic<ExecveFn> g_execvpe{nullptr};
std::atomic<FexecveFn> g_fexecve{nullptr};
std::atomic<ExecveatFn> g_execveat{nullptr};

template <typename Fn>
void lookup(std::atomic<Fn>& slot, const char* name) {
    slot.store(reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name)), std::memory_order_release);
}

template <typename Fn>
Fn get(std::atomic<Fn>& slot) {
    return slot.load(std::memory_order_acquire);
}

void* mmap_result(long r) {
    return r < 0 && r > -4096 ? (libc_result(r), MAP_FAILED) : reinterpret_cast<void*>(r);
}

}  // namespace

void resolve() {
    lookup(g_mbind, "mbind");
    lookup(g_set_mempolicy, "set_mempolicy");
    lookup(g_get_mempolicy, "get_mempolicy");
    lookup(g_home_node, "set_mempolicy_home_node");
    lookup(g_munmap, "munmap");
    lookup(g_mremap, "mremap");
    lookup(g_mmap, "mmap");
    lookup(g_mmap64, "mmap64");
    lookup(g_shmdt, "shmdt");
    lookup(g_syscall, "syscall");
    lookup(g_pthread_create, "pthread_create");
    lookup(g_fork, "fork");
    lookup(g_execve, "execve");
    lookup(g_execvpe, "execvpe");
    lookup(g_fexecve, "fexecve");
    lookup(g_execveat, "execveat");
}

pid_t fork() {
    auto next = get(g_fork);
    if (!next) next = reinterpret_cast<ForkFn>(dlsym(RTLD_NEXT, "fork"));
    if (!next) {
        errno = ENOSYS;
        return -1;
    }
    return next();
}

__attribute__((hot)) long mbind(void* start, unsigned long len, int mode,
                                const unsigned long* nodemask, unsigned long maxnode,
                                unsigned flags) {
    if (auto fn = get(g_mbind)) return fn(start, len, mode, nodemask, maxnode, flags);
    return libc_result(raw(SYS_mbind, start, len, mode, nodemask, maxnode, flags));
}

long set_mempolicy(int mode, const unsigned long* nodemask, unsigned long maxnode) {
    if (auto fn = get(g_set_mempolicy)) return fn(mode, nodemask, maxnode);
    return libc_result(raw(SYS_set_mempolicy, mode, nodemask, maxnode));
}

long get_mempolicy(int* mode, unsigned long* nodemask, unsigned long maxnode, void* addr,
                   unsigned long flags) {
    if (auto fn = get(g_get_mempolicy))
        return fn(mode, nodemask, maxnode, addr, static_cast<unsigned>(flags));
    return libc_result(raw(SYS_get_mempolicy, mode, nodemask, maxnode, addr, flags));
}

long set_mempolicy_home_node(unsigned long start, unsigned long len, unsigned long home_node,
                             unsigned long flags) {
    if (auto fn = get(g_home_node)) return fn(start, len, home_node, flags);
    return libc_result(raw(SYS_set_mempolicy_home_node, start, len, home_node, flags));
}

__attribute__((hot)) int munmap(void* addr, std::size_t len) {
    if (auto fn = get(g_munmap)) return fn(addr, len);
    return static_cast<int>(libc_result(raw(SYS_munmap, addr, len)));
}

void* mremap(void* old, std::size_t old_len, std::size_t new_len, int flags, void* new_addr) {
    if (auto fn = get(g_mremap)) return fn(old, old_len, new_len, flags, new_addr);
    return mmap_result(raw(SYS_mremap, old, old_len, new_len, flags, new_addr));
}

void* mmap(void* addr, std::size_t len, int prot, int flags, int fd, off_t off) {
    if (auto fn = get(g_mmap)) return fn(addr, len, prot, flags, fd, off);
    return mmap_result(raw(SYS_mmap, addr, len, prot, flags, fd, off));
}

void* mmap64(void* addr, std::size_t len, int prot, int flags, int fd, off_t off) {
    if (auto fn = get(g_mmap64)) return fn(addr, len, prot, flags, fd, off);
    return mmap_result(raw(SYS_mmap, addr, len, prot, flags, fd, off));
}

int shmdt(const void* addr) {
    if (auto fn = get(g_shmdt)) return fn(addr);
    return static_cast<int>(libc_result(raw(SYS_shmdt, addr)));
}

long syscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6) {
    if (auto fn = get(g_syscall)) return fn(nr, a1, a2, a3, a4, a5, a6);
    return libc_result(raw_syscall6(nr, a1, a2, a3, a4, a5, a6));
}

int execve(const char* path, char* const argv[], char* const envp[]) {
    if (auto fn = get(g_execve)) return fn(path, argv, envp);
    return static_cast<int>(libc_result(raw(SYS_execve, path, argv, envp)));
}

int execvpe(const char* file, char* const argv[], char* const envp[]) {
    auto next = get(g_execvpe);
    if (!next) next = reinterpret_cast<ExecveFn>(dlsym(RTLD_NEXT, "execvpe"));
    if (!next) {
        errno = ENOSYS;
        return -1;
    }
    return next(file, argv, envp);
}

int fexecve(int fd, char* const argv[], char* const envp[]) {
    if (auto fn = get(g_fexecve)) return fn(fd, argv, envp);
    return static_cast<int>(libc_result(raw(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH)));
}

int execveat(int dirfd, const char* path, char* const argv[], char* const envp[], int flags) {
    if (auto fn = get(g_execveat)) return fn(dirfd, path, argv, envp, flags);
    return static_cast<int>(libc_result(raw(SYS_execveat, dirfd, path, argv, envp, flags)));
}

int pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*fn)(void*), void* arg) {
    auto next = get(g_pthread_create);
    // Only reachable before resolve() when a thread is created from inside
    // dlsym's own allocation; look it up on the spot.
    if (!next) next = reinterpret_cast<PthreadCreateFn>(dlsym(RTLD_NEXT, "pthread_create"));
    if (!next) return EAGAIN;
    return next(thread, attr, fn, arg);
}

}  // namespace numakeep::preload::real
