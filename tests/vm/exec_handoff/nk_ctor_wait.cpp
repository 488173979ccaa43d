// SPDX-License-Identifier: MIT
// nk-ctor-wait.so: holds a new image in its constructors, before
// libnumakeep.so has learned the inherited task policy, so that the
// exec-handoff case can change cpuset.mems in exactly the window the exec
// handoff exists for. Preloaded AFTER libnumakeep.so
// (LD_PRELOAD=libnumakeep.so:nk-ctor-wait.so): glibc runs the constructors
// of preloaded objects in the reverse of their order (checked on Debian 12:
// a.so:b.so runs b's first).
//
// Acts only in `nk-exec-handoff-vm child PREFIX`: creates PREFIX.waiting,
// then waits (at most 60 s) until PREFIX.go exists. Every system call is an
// inline `syscall` instruction (guest.hpp): nothing here may enter
// libnumakeep.so, whose first interposed call would learn the policy early.
#include <fcntl.h>
#include <sys/syscall.h>
#include <time.h>

#include <cstring>

#include "guest.hpp"

namespace {

// PREFIX + suffix into buf; false when it does not fit.
bool join(char* buf, std::size_t cap, const char* prefix, const char* suffix) {
    std::size_t a = std::strlen(prefix), b = std::strlen(suffix);
    if (a + b + 1 > cap) return false;
    std::memcpy(buf, prefix, a);
    std::memcpy(buf + a, suffix, b + 1);
    return true;
}

__attribute__((constructor)) void nk_ctor_wait(int argc, char** argv, char**) {
    using numakeep::guest::kernel_syscall;
    if (argc < 3 || std::strcmp(argv[1], "child") != 0) return;
    char waiting[256], go[256];
    if (!join(waiting, sizeof waiting, argv[2], ".waiting") || !join(go, sizeof go, argv[2], ".go"))
        return;
    long fd = kernel_syscall(SYS_openat, AT_FDCWD, reinterpret_cast<long>(waiting),
                             O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (fd >= 0) kernel_syscall(SYS_close, fd);
    for (int i = 0; i < 6000; ++i) {
        if (kernel_syscall(SYS_faccessat, AT_FDCWD, reinterpret_cast<long>(go), F_OK) == 0) return;
        timespec ts{0, 10'000'000};
        kernel_syscall(SYS_nanosleep, reinterpret_cast<long>(&ts), 0);
    }
}

}  // namespace
