// SPDX-License-Identifier: MIT
// System calls issued without libc: the runtime's own mbind/get_mempolicy/
// munmap calls must neither reach the program's (or our own) interposed
// syscall() nor touch errno. Returns the kernel's value: >= 0, or -errno.
#pragma once

#include <cerrno>

namespace numakeep::preload {

inline long raw_syscall6(long nr, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0, long a5 = 0,
                         long a6 = 0) {
#if defined(__x86_64__)
    long ret;
    register long r10 __asm__("r10") = a4;
    register long r8 __asm__("r8") = a5;
    register long r9 __asm__("r9") = a6;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = nr;
    register long x0 __asm__("x0") = a1;
    register long x1 __asm__("x1") = a2;
    register long x2 __asm__("x2") = a3;
    register long x3 __asm__("x3") = a4;
    register long x4 __asm__("x4") = a5;
    register long x5 __asm__("x5") = a6;
    __asm__ volatile("svc 0"
                     : "+r"(x0)
                     : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                     : "memory");
    return x0;
#else
#error "numakeep's preload needs a raw system call for this architecture"
#endif
}

// A raw result turned into libc's convention: -1 with errno set.
inline long libc_result(long r) {
    if (r < 0 && r > -4096) {
        errno = static_cast<int>(-r);
        return -1;
    }
    return r;
}

template <typename... A>
inline long raw(long nr, A... a) {
    return raw_syscall6(nr, (long)a...);
}

}  // namespace numakeep::preload
