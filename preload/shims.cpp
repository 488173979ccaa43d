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
#include <alloca.h>
#include <numaif.h>
#include <pthread.h>
#include <sys/shm.h>

#include <cstdarg>

#include "exec_handoff_calls.hpp"
#include "intercepted_calls.hpp"
#include "raw_syscall.hpp"
#include "real_calls.hpp"
#include "record_ops.hpp"
#include "rebind_signal.hpp"
#include "reentrancy_guard.hpp"

#define NUMAKEEP_EXPORT __attribute__((visibility("default")))

#if defined(__SANITIZE_THREAD__)
#include <dlfcn.h>
// ThreadSanitizer builds (tools/test-sanitizers): libnumakeep.so is
// preloaded ahead of libtsan, so that our pthread_create wraps TSan's thread
// start: TSan must know a thread before any instrumented code runs on it.
// Then TSan's own start-up (its symbolizer maps memory) calls our memory
// shims before it can run instrumented code. Until our constructors run
// (after libtsan's: it is a dependency of ours) those shims forward
// untouched, through code TSan does not instrument.
namespace {
bool g_tsan_ready = false;
__attribute__((constructor)) void mark_tsan_ready() {
    __atomic_store_n(&g_tsan_ready, true, __ATOMIC_RELEASE);
}
}  // namespace
#define NUMAKEEP_EARLY_SHIM __attribute__((no_sanitize("thread")))
#define NUMAKEEP_FORWARD_EARLY(Type, name, ...)            \
    if (!__atomic_load_n(&g_tsan_ready, __ATOMIC_ACQUIRE)) \
    return reinterpret_cast<Type>(dlsym(RTLD_NEXT, #name))(__VA_ARGS__)
#else
#define NUMAKEEP_EARLY_SHIM
#define NUMAKEEP_FORWARD_EARLY(Type, name, ...) \
    do {                                        \
    } while (0)
#endif

extern char** environ;

using numakeep::preload::Via;
namespace np = numakeep::preload;

extern "C" {

NUMAKEEP_EXPORT __attribute__((hot)) long mbind(void* start, unsigned long len, int mode,
                                                const unsigned long* nodemask,
                                                unsigned long maxnode, unsigned flags) {
    return np::on_mbind<Via::NextDefinition>(start, len, mode, nodemask, maxnode, flags);
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

NUMAKEEP_EXPORT NUMAKEEP_EARLY_SHIM __attribute__((hot)) int munmap(void* addr, size_t len) {
    NUMAKEEP_FORWARD_EARLY(int (*)(void*, size_t), munmap, addr, len);
    return np::on_munmap(Via::NextDefinition, addr, len);
}

// The fifth argument exists only with MREMAP_FIXED, exactly as glibc's
// own mremap reads it.
NUMAKEEP_EXPORT NUMAKEEP_EARLY_SHIM void* mremap(void* old, size_t old_len, size_t new_len,
                                                 int flags, ...) {
    void* new_addr = nullptr;
    if (flags & np::kMremapFixed) {
        va_list ap;
        va_start(ap, flags);
        new_addr = va_arg(ap, void*);
        va_end(ap);
    }
    NUMAKEEP_FORWARD_EARLY(void* (*)(void*, size_t, size_t, int, ...), mremap, old, old_len,
                           new_len, flags, new_addr);
    return np::on_mremap(Via::NextDefinition, old, old_len, new_len, flags, new_addr);
}

NUMAKEEP_EXPORT NUMAKEEP_EARLY_SHIM void* mmap(void* addr, size_t len, int prot, int flags, int fd,
                                               off_t off) {
    NUMAKEEP_FORWARD_EARLY(void* (*)(void*, size_t, int, int, int, off_t), mmap, addr, len, prot,
                           flags, fd, off);
    return np::on_mmap(Via::NextDefinition, false, addr, len, prot, flags, fd, off);
}

NUMAKEEP_EXPORT NUMAKEEP_EARLY_SHIM void* mmap64(void* addr, size_t len, int prot, int flags,
                                                 int fd, off_t off) {
    NUMAKEEP_FORWARD_EARLY(void* (*)(void*, size_t, int, int, int, off_t), mmap64, addr, len, prot,
                           flags, fd, off);
    return np::on_mmap(Via::NextDefinition, true, addr, len, prot, flags, fd, off);
}

NUMAKEEP_EXPORT int shmdt(const void* addr) {
    return np::on_shmdt(Via::NextDefinition, addr);
}

// syscall(2) is variadic; every caller passes at most six arguments and the
// x86-64/arm64 ABIs let us read six whatever was passed.
NUMAKEEP_EXPORT __attribute__((hot)) long syscall(long nr, ...) {
    va_list ap;
    va_start(ap, nr);
    long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
    long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
    va_end(ap);
    // The runtime's own calls (libnuma's mbind under our mbind): straight
    // to the kernel, here, without another frame: each one still on the
    // stack when the kernel returns costs a mispredicted return, and this
    // is the inside of every interposed mbind. (libc's syscall() is the
    // same instruction and the same -1/errno convention.)
    if (np::ReentrancyGuard::active())
        return np::libc_result(np::raw_syscall6(nr, a1, a2, a3, a4, a5, a6));
    return np::on_syscall(nr, a1, a2, a3, a4, a5, a6);
}

// fork's own discipline is in fork_handlers.cpp (pthread_atfork); this
// shim only starts the child's agent once fork has returned.
NUMAKEEP_EXPORT pid_t fork() {
    return np::on_fork();
}

NUMAKEEP_EXPORT int pthread_create(pthread_t* thread, const pthread_attr_t* attr,
                                   void* (*fn)(void*), void* arg) {
    // The new thread believes what its creator believes of the rebind
    // signal's mask (rebind_signal.hpp).
    const np::ThreadStartArgs start = np::carry_mask_belief(fn, arg);
    int r = np::on_pthread_create(thread, attr, start.fn, start.arg);
    if (r != 0) np::drop_carried_belief(start);
    return r;
}

// The rebind signal's reservation (rebind_signal.hpp): on any other signal
// these only forward. glibc's signal(), sysv_signal() and sigset() call its
// sigaction internally, not through the PLT, so each has its own shim.
NUMAKEEP_EXPORT int sigaction(int sig, const struct sigaction* act,
                              struct sigaction* old) noexcept {
    return np::on_sigaction(sig, act, old);
}
NUMAKEEP_EXPORT sighandler_t signal(int sig, sighandler_t handler) noexcept {
    return np::on_signal(sig, handler, false);
}
NUMAKEEP_EXPORT sighandler_t bsd_signal(int sig, sighandler_t handler) noexcept {
    return np::on_signal(sig, handler, false);
}
NUMAKEEP_EXPORT sighandler_t sysv_signal(int sig, sighandler_t handler) noexcept {
    return np::on_signal(sig, handler, true);
}
NUMAKEEP_EXPORT sighandler_t sigset(int sig, sighandler_t disp) noexcept {
    return np::on_sigset(sig, disp);
}
NUMAKEEP_EXPORT int sigprocmask(int how, const sigset_t* set, sigset_t* old) noexcept {
    return np::on_sigprocmask(how, set, old);
}
NUMAKEEP_EXPORT int pthread_sigmask(int how, const sigset_t* set, sigset_t* old) noexcept {
    return np::on_pthread_sigmask(how, set, old);
}
NUMAKEEP_EXPORT int sigsuspend(const sigset_t* mask) {
    return np::on_sigsuspend(mask);
}
NUMAKEEP_EXPORT int sigwait(const sigset_t* set, int* sig) {
    return np::on_sigwait(set, sig);
}
NUMAKEEP_EXPORT int sigwaitinfo(const sigset_t* set, siginfo_t* info) {
    return np::on_sigwaitinfo(set, info);
}
NUMAKEEP_EXPORT int sigtimedwait(const sigset_t* set, siginfo_t* info,
                                 const struct timespec* timeout) {
    return np::on_sigtimedwait(set, info, timeout);
}
NUMAKEEP_EXPORT int signalfd(int fd, const sigset_t* mask, int flags) {
    return np::on_signalfd(fd, mask, flags);
}
NUMAKEEP_EXPORT int ppoll(struct pollfd* fds, unsigned long nfds, const struct timespec* timeout,
                          const sigset_t* mask) {
    return np::on_ppoll(fds, nfds, timeout, mask);
}
NUMAKEEP_EXPORT int pselect(int nfds, fd_set* readfds, fd_set* writefds, fd_set* exceptfds,
                            const struct timespec* timeout, const sigset_t* mask) {
    return np::on_pselect(nfds, readfds, writefds, exceptfds, timeout, mask);
}
NUMAKEEP_EXPORT int epoll_pwait(int epfd, struct epoll_event* events, int maxevents,
                                int timeout_ms, const sigset_t* mask) {
    return np::on_epoll_pwait(epfd, events, maxevents, timeout_ms, mask);
}

// The exec family: a rebind signal must not be in flight across an exec
// (exec_handoff_calls.hpp). glibc's execv, execvp and execl* call execve and
// execvpe internally, not through the PLT, so each has its own shim; the
// argument decoding below is glibc's own (execv = execve with environ,
// execl* collect their arguments into an argv).
NUMAKEEP_EXPORT int execve(const char* path, char* const argv[], char* const envp[]) {
    return np::on_execve(path, argv, envp);
}
NUMAKEEP_EXPORT int execv(const char* path, char* const argv[]) {
    return np::on_execve(path, argv, environ);
}
NUMAKEEP_EXPORT int execvpe(const char* file, char* const argv[], char* const envp[]) {
    return np::on_execvpe(file, argv, envp);
}
NUMAKEEP_EXPORT int execvp(const char* file, char* const argv[]) {
    return np::on_execvpe(file, argv, environ);
}
NUMAKEEP_EXPORT int fexecve(int fd, char* const argv[], char* const envp[]) {
    return np::on_fexecve(fd, argv, envp);
}
NUMAKEEP_EXPORT int execveat(int dirfd, const char* path, char* const argv[], char* const envp[],
                             int flags) {
    return np::on_execveat(dirfd, path, argv, envp, flags);
}

// execl, execlp, execle: the variadic argument list up to its NULL, copied
// onto the stack (no allocation: exec may follow vfork).
#define NUMAKEEP_COLLECT_ARGV(first, argv, envp_out)                         \
    std::size_t argc = 1;                                                    \
    {                                                                        \
        va_list count;                                                       \
        va_start(count, first);                                              \
        while (va_arg(count, const char*)) ++argc;                           \
        va_end(count);                                                       \
    }                                                                        \
    auto** argv = static_cast<char**>(alloca((argc + 1) * sizeof(char*)));   \
    argv[0] = const_cast<char*>(first);                                      \
    {                                                                        \
        va_list ap;                                                          \
        va_start(ap, first);                                                 \
        for (std::size_t i = 1; i <= argc; ++i) argv[i] = va_arg(ap, char*); \
        envp_out;                                                            \
        va_end(ap);                                                          \
    }

NUMAKEEP_EXPORT int execl(const char* path, const char* arg, ...) {
    NUMAKEEP_COLLECT_ARGV(arg, argv, (void)0)
    return np::on_execve(path, argv, environ);
}
NUMAKEEP_EXPORT int execlp(const char* file, const char* arg, ...) {
    NUMAKEEP_COLLECT_ARGV(arg, argv, (void)0)
    return np::on_execvpe(file, argv, environ);
}
NUMAKEEP_EXPORT int execle(const char* path, const char* arg, ...) {
    char** envp = nullptr;
    NUMAKEEP_COLLECT_ARGV(arg, argv, envp = va_arg(ap, char**))
    return np::on_execve(path, argv, envp);
}
#undef NUMAKEEP_COLLECT_ARGV

}  // extern "C"
