// SPDX-License-Identifier: MIT
#include "intercepted_calls.hpp"

#include <sys/mman.h>
#include <sys/syscall.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <new>

#include "agent.hpp"
#include "kernel_assist.hpp"
#include "numakeep/mpol.hpp"
#include "raw_syscall.hpp"
#include "rebind_signal.hpp"
#include "real_calls.hpp"
#include "rebind_executor.hpp"
#include "record_keeper.hpp"
#include "record_ops.hpp"
#include "reentrancy_guard.hpp"
#include "thread_rebind.hpp"
#include "runtime.hpp"

namespace numakeep::preload {
namespace {

std::uint64_t addr_of(const void* p) {
    return reinterpret_cast<std::uint64_t>(p);
}

void* mmap_result(long r) {
    return r < 0 && r > -4096 ? (libc_result(r), MAP_FAILED) : reinterpret_cast<void*>(r);
}

// Forgets the records of pages shmdt() just unmapped. shmdt takes no length:
// the kernel unmaps the segment's vmas from addr on (ksys_shmdt()), so
// the unmapped stretch is found by asking the kernel which recorded pages
// from addr on are still mapped (mincore answers ENOMEM for a hole).
void forget_detached(std::uint64_t addr) {
    auto mapped = [](std::uint64_t page) {
        unsigned char vec;
        return raw(SYS_mincore, page, kPageSize, &vec) != -ENOMEM;
    };
    RangeStore& store = ranges();
    RangeStore::Range r;
    // Record by record from addr on, while they follow each other without
    // a gap: the segment's vmas are contiguous, and a mapped page ends it.
    std::uint64_t expect = addr;
    while (store.first_in(expect, ~std::uint64_t{0}, r)) {
        std::uint64_t s = r.start < expect ? expect : r.start, e = r.end;
        if (s != expect || mapped(s)) break;  // the detached stretch ended
        // Binary search the first mapped page of [s, e).
        std::uint64_t lo = s / kPageSize + 1, hi = e / kPageSize;
        while (lo < hi) {
            std::uint64_t mid = lo + (hi - lo) / 2;
            if (mapped(mid * kPageSize))
                hi = mid;
            else
                lo = mid + 1;
        }
        store.punch(s, lo * kPageSize);
        if (lo * kPageSize < e) break;
        expect = e;
    }
}

}  // namespace

// hot: kept next to record_mbind() and the shims in .text.hot, so the
// code an mbind runs after its system call spans few cache lines.
template <Via via>
__attribute__((hot)) long on_mbind(void* start, unsigned long len, int mode,
                                   const unsigned long* nodemask, unsigned long maxnode,
                                   unsigned flags) {
    auto call = [&] {
        return via == Via::NextDefinition
                   ? real::mbind(start, len, mode, nodemask, maxnode, flags)
                   : libc_result(raw(SYS_mbind, start, len, mode, nodemask, maxnode, flags));
    };
    if (ReentrancyGuard::active()) return call();
    ensure_init();
    ReentrancyGuard guard;
    long r;
    int err;
    bool remember = false;
    {
        // Held across the call: a rebind never runs between the kernel
        // installing this policy and the record of it.
        RecordLock lock;
        r = call();
        err = errno;
        // MPOL_MF_STRICT's EIO comes after the policy was installed
        // (do_mbind() applies it, then reports the pages it could not
        // place): the kernel holds the new policy, so we record it.
        if (r == 0 || (err == EIO && (flags & mpol::kMfStrict))) {
            const bool assist = assist_prepare(mode);
            remember = record_mbind(addr_of(start), len, mode, nodemask, maxnode);
            if (remember && assist) assist_range(addr_of(start), len);
        }
    }
    if (remember) agent_start_if_needed();
    errno = err;
    return r;
}

template long on_mbind<Via::NextDefinition>(void*, unsigned long, int, const unsigned long*,
                                            unsigned long, unsigned);
template long on_mbind<Via::Kernel>(void*, unsigned long, int, const unsigned long*, unsigned long,
                                    unsigned);

long on_set_mempolicy(Via via, int mode, const unsigned long* nodemask, unsigned long maxnode) {
    auto call = [&] {
        return via == Via::NextDefinition
                   ? real::set_mempolicy(mode, nodemask, maxnode)
                   : libc_result(raw(SYS_set_mempolicy, mode, nodemask, maxnode));
    };
    if (ReentrancyGuard::active()) return call();
    ensure_init();
    ReentrancyGuard guard;
    long r;
    int err;
    bool remember = false;
    {
        RecordLock lock;
        // From the call to its record, a rebind signal must not re-issue
        // the plan made for the request this call replaces (the round
        // signals without the record lock).
        t_in_own_policy_call = true;
        std::atomic_signal_fence(std::memory_order_seq_cst);
        r = call();
        err = errno;
        if (r == 0) {
            const bool assist = assist_prepare(mode);
            remember = record_set_mempolicy(mode, nodemask, maxnode);
            if (remember && assist) assist_own_thread();
            if (remember) report_own_policy();
        }
        std::atomic_signal_fence(std::memory_order_seq_cst);
        t_in_own_policy_call = false;
        // A round's signal landed meanwhile and left its plan to us: a call
        // that failed changed nothing, so the thread carries it out now.
        if (t_round_left_to_call) {
            t_round_left_to_call = false;
            if (ThreadRecord* tr = t_thread_record; r != 0 && tr && tr->has_policy) {
                rebind_own_thread(*tr);
                report_own_policy();
            }
        }
    }
    if (remember) agent_start_if_needed();
    errno = err;
    return r;
}

long on_set_mempolicy_home_node(Via via, unsigned long start, unsigned long len,
                                unsigned long home_node, unsigned long flags) {
    auto call = [&] {
        return via == Via::NextDefinition
                   ? real::set_mempolicy_home_node(start, len, home_node, flags)
                   : libc_result(raw(SYS_set_mempolicy_home_node, start, len, home_node, flags));
    };
    if (ReentrancyGuard::active()) return call();
    ensure_init();
    ReentrancyGuard guard;
    RecordLock lock;
    long r = call();
    int err = errno;
    if (r == 0) apply_home_node(ranges(), start, len, static_cast<int>(home_node));
    errno = err;
    return r;
}

long on_get_mempolicy(Via via, int* mode, unsigned long* nodemask, unsigned long maxnode,
                      void* addr, unsigned long flags) {
    long r = via == Via::NextDefinition
                 ? real::get_mempolicy(mode, nodemask, maxnode, addr, flags)
                 : libc_result(raw(SYS_get_mempolicy, mode, nodemask, maxnode, addr, flags));
    // A kernel-assisted policy reads back as the program's own would.
    assist_translate_get_mempolicy(r, mode, nodemask, maxnode, addr, flags);
    return r;
}

int munmap_tracked(Via via, void* addr, std::size_t len) {
    ensure_init();
    ReentrancyGuard guard;
    RecordLock lock;
    int r = via == Via::NextDefinition ? real::munmap(addr, len)
                                       : static_cast<int>(libc_result(raw(SYS_munmap, addr, len)));
    int err = errno;
    if (r == 0) {
        apply_munmap(ranges(), addr_of(addr), len);
        refresh_tracked();
    }
    errno = err;
    return r;
}

void* on_mremap(Via via, void* old, std::size_t old_len, std::size_t new_len, int flags,
                void* new_addr) {
    auto call = [&] {
        return via == Via::NextDefinition
                   ? real::mremap(old, old_len, new_len, flags, new_addr)
                   : mmap_result(raw(SYS_mremap, old, old_len, new_len, flags, new_addr));
    };
    bool fixed = flags & (MREMAP_FIXED | MREMAP_DONTUNMAP);
    if (ReentrancyGuard::active() ||
        (!may_be_tracked(addr_of(old), old_len > new_len ? old_len : new_len) &&
         !(fixed && may_be_tracked(addr_of(new_addr), new_len)))) {
        void* r = call();
        if (r == MAP_FAILED || ReentrancyGuard::active() || !may_be_tracked(addr_of(r), new_len))
            return r;
        // Landed on records of memory unmapped behind our back: stale.
        ErrnoKeeper keep;
        ReentrancyGuard guard;
        RecordLock lock;
        apply_mmap(ranges(), addr_of(r), new_len);
        return r;
    }
    ensure_init();
    ReentrancyGuard guard;
    RecordLock lock;
    ranges().reserve(ranges().move_cost(addr_of(old), old_len, new_len));
    void* r = call();
    int err = errno;
    if (r != MAP_FAILED) {
        apply_mremap(ranges(), addr_of(old), old_len, new_len, flags, addr_of(r));
        refresh_tracked();
    }
    errno = err;
    return r;
}

void* on_mmap(Via via, bool is64, void* addr, std::size_t len, int prot, int flags, int fd,
              off_t off) {
    auto call = [&] {
        if (via == Via::Kernel) return mmap_result(raw(SYS_mmap, addr, len, prot, flags, fd, off));
        return is64 ? real::mmap64(addr, len, prot, flags, fd, off)
                    : real::mmap(addr, len, prot, flags, fd, off);
    };
    if (ReentrancyGuard::active()) return call();
    bool fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);
    if (fixed && may_be_tracked(addr_of(addr), len)) {
        // MAP_FIXED replaces what was there: hold the lock so a rebind never
        // mbinds the new mapping under the old record.
        ensure_init();
        ReentrancyGuard guard;
        RecordLock lock;
        void* r = call();
        int err = errno;
        if (r != MAP_FAILED) {
            apply_mmap(ranges(), addr_of(r), len);
            refresh_tracked();
        }
        errno = err;
        return r;
    }
    void* r = call();
    if (r != MAP_FAILED && may_be_tracked(addr_of(r), len)) {
        ErrnoKeeper keep;
        ensure_init();
        ReentrancyGuard guard;
        RecordLock lock;
        apply_mmap(ranges(), addr_of(r), len);
    }
    return r;
}

int on_shmdt(Via via, const void* addr) {
    auto call = [&] {
        return via == Via::NextDefinition ? real::shmdt(addr)
                                          : static_cast<int>(libc_result(raw(SYS_shmdt, addr)));
    };
    if (ReentrancyGuard::active() || state().store_empty.load(std::memory_order_relaxed))
        return call();
    ensure_init();
    ReentrancyGuard guard;
    RecordLock lock;
    int r = call();
    int err = errno;
    if (r == 0) {
        forget_detached(addr_of(addr));
        refresh_tracked();
    }
    errno = err;
    return r;
}

long on_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6) {
    // Never reached from inside the runtime: the syscall() shim issues the
    // runtime's own calls (libnuma's mbind under ours) itself.
    auto p = [](long v) { return reinterpret_cast<void*>(v); };
    auto mask = [](long v) { return reinterpret_cast<unsigned long*>(v); };
    switch (nr) {
        case SYS_mbind:
            return on_mbind<Via::Kernel>(p(a1), static_cast<unsigned long>(a2),
                                         static_cast<int>(a3), mask(a4),
                                         static_cast<unsigned long>(a5), static_cast<unsigned>(a6));
        case SYS_set_mempolicy:
            return on_set_mempolicy(Via::Kernel, static_cast<int>(a1), mask(a2),
                                    static_cast<unsigned long>(a3));
        case SYS_set_mempolicy_home_node:
            return on_set_mempolicy_home_node(
                Via::Kernel, static_cast<unsigned long>(a1), static_cast<unsigned long>(a2),
                static_cast<unsigned long>(a3), static_cast<unsigned long>(a4));
        case SYS_get_mempolicy:
            return on_get_mempolicy(Via::Kernel, reinterpret_cast<int*>(a1), mask(a2),
                                    static_cast<unsigned long>(a3), p(a4),
                                    static_cast<unsigned long>(a5));
        case SYS_munmap:
            return on_munmap(Via::Kernel, p(a1), static_cast<std::size_t>(a2));
        case SYS_mremap:
            return reinterpret_cast<long>(
                on_mremap(Via::Kernel, p(a1), static_cast<std::size_t>(a2),
                          static_cast<std::size_t>(a3), static_cast<int>(a4), p(a5)));
        case SYS_mmap:
            return reinterpret_cast<long>(on_mmap(
                Via::Kernel, false, p(a1), static_cast<std::size_t>(a2), static_cast<int>(a3),
                static_cast<int>(a4), static_cast<int>(a5), static_cast<off_t>(a6)));
        case SYS_shmdt:
            return on_shmdt(Via::Kernel, p(a1));
        case SYS_rt_sigaction:
            return libc_result(on_rt_sigaction_syscall(a1, a2, a3, a4));
        case SYS_rt_sigprocmask:
            return libc_result(on_rt_sigprocmask_syscall(a1, a2, a3, a4));
        default:
            return real::syscall6(nr, a1, a2, a3, a4, a5, a6);
    }
}

namespace {

struct ThreadStart {
    void* (*fn)(void*);
    void* arg;
    Recorded rec;
    std::uint64_t generation;
};

// First code of a thread whose creator held a task policy: the kernel gave
// it a copy of that policy (copy_process() -> mpol_dup()), so it also gets a
// copy of the request. If a rebind ran between the clone and here, the agent
// did not know this thread yet: bring it up to date itself.
void* thread_trampoline(void* p) {
    ThreadStart start = *static_cast<ThreadStart*>(p);
    {
        ReentrancyGuard guard;
        std::free(p);
        RecordLock lock;
        ThreadRecord* tr = adopt_thread_record(start.rec);
        if (tr && state().generation_applied != start.generation) rebind_own_thread(*tr);
        report_own_policy();
    }
    return start.fn(start.arg);
}

}  // namespace

pid_t on_fork() {
    pid_t r = real::fork();
    if (r == 0 && !ReentrancyGuard::active()) {
        ErrnoKeeper keep;
        ReentrancyGuard guard;
        agent_start_in_child();
    }
    return r;
}

int on_pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*fn)(void*),
                      void* arg) {
    ThreadRecord* own = t_thread_record;
    if (ReentrancyGuard::active() || !own || !own->has_policy)
        return real::pthread_create(thread, attr, fn, arg);
    ensure_init();
    ThreadStart* start;
    {
        ReentrancyGuard guard;
        start = static_cast<ThreadStart*>(std::malloc(sizeof(ThreadStart)));
        if (!start) return real::pthread_create(thread, attr, fn, arg);
        RecordLock lock;
        new (start) ThreadStart{fn, arg, own->rec, state().generation_applied};
    }
    int r = real::pthread_create(thread, attr, thread_trampoline, start);
    if (r != 0) {
        ReentrancyGuard guard;
        std::free(start);
    }
    return r;
}

}  // namespace numakeep::preload
