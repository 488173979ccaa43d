// SPDX-License-Identifier: MIT
// Per-thread "we are inside numakeep" flag. Anything the runtime calls that
// comes back into an interposed symbol (libnuma's mbind calling syscall(),
// malloc calling mmap while the record lock is held, dlsym allocating during
// start-up) sees the flag and is forwarded untouched, never recorded.
//
// A trivially constructible bool in initial-exec TLS: reading it costs one
// %fs-relative load and never calls __tls_get_addr (which may allocate).
#pragma once

#include <cerrno>

namespace numakeep::preload {

extern constinit thread_local bool t_inside_runtime __attribute__((tls_model("initial-exec")));

class ReentrancyGuard {
  public:
    ReentrancyGuard() : was_(t_inside_runtime) { t_inside_runtime = true; }
    ~ReentrancyGuard() { t_inside_runtime = was_; }
    ReentrancyGuard(const ReentrancyGuard&) = delete;
    ReentrancyGuard& operator=(const ReentrancyGuard&) = delete;

    // True when the calling thread is already inside the runtime.
    static bool active() { return t_inside_runtime; }

  private:
    bool was_;
};

// Keeps errno across the runtime's own work: interposed calls return the
// real call's errno, whatever recording did.
class ErrnoKeeper {
  public:
    ErrnoKeeper() : saved_(errno) {}
    ~ErrnoKeeper() { errno = saved_; }
    ErrnoKeeper(const ErrnoKeeper&) = delete;
    ErrnoKeeper& operator=(const ErrnoKeeper&) = delete;

  private:
    int saved_;
};

}  // namespace numakeep::preload
