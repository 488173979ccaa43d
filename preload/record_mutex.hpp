// SPDX-License-Identifier: MIT
// The records' one lock: a three-state futex mutex (0 free, 1 held, 2 held
// with waiters), one atomic instruction to take it and one to give it back
// when nobody waits, all inline.
//
// Why not pthread_mutex_t: every interposed mbind takes this lock around
// its system call, and what runs right after the kernel returns runs with
// cold caches and predictors: glibc's lock and unlock (two calls through
// the PLT into another library's pages, the mutex-type dispatch, the owner
// and user counts) plus the owner bookkeeping we needed for fork showed in
// preload.mbind_ratio of tools/bench preload. This one is inline and costs
// what its two atomic instructions cost.
//
// Who holds it is known per thread (held_by_me()), which is all fork's
// prepare handler needs: a thread forking from a signal handler that
// interrupted one of our calls already holds it and must not wait for
// itself.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>

#include <atomic>
#include <cstdint>

#include "raw_syscall.hpp"

namespace numakeep::preload {

extern constinit thread_local bool t_holds_record_mutex __attribute__((tls_model("initial-exec")));

class RecordMutex {
  public:
    constexpr RecordMutex() = default;
    RecordMutex(const RecordMutex&) = delete;
    RecordMutex& operator=(const RecordMutex&) = delete;

    void lock() {
        std::uint32_t expected = 0;
        if (!word_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                           std::memory_order_relaxed))
            lock_contended();
        t_holds_record_mutex = true;
    }
    void unlock() {
        t_holds_record_mutex = false;
        if (word_.exchange(0, std::memory_order_release) == 2) wake_one();
    }
    static bool held_by_me() { return t_holds_record_mutex; }
    // fork's child: one thread left, the lock free, whoever held it.
    void reset_in_child() {
        word_.store(0, std::memory_order_relaxed);
        t_holds_record_mutex = false;
    }

  private:
    // Marks the lock contended and sleeps until it is handed back (the
    // agent holds it across a whole rebind: milliseconds, not a spin).
    void lock_contended() {
        while (word_.exchange(2, std::memory_order_acquire) != 0)
            raw(SYS_futex, &word_, FUTEX_WAIT_PRIVATE, 2, 0L);
    }
    void wake_one() { raw(SYS_futex, &word_, FUTEX_WAKE_PRIVATE, 1); }

    std::atomic<std::uint32_t> word_{0};
};

}  // namespace numakeep::preload
