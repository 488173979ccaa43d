// SPDX-License-Identifier: MIT
#include "thread_rebind.hpp"

#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <type_traits>

#include "raw_syscall.hpp"
#include "runtime.hpp"

namespace numakeep::preload {
namespace {

int g_signal = 0;  // chosen once, lock held
std::atomic<std::uint32_t> g_round{0};
std::atomic<std::uint32_t> g_answers{0};  // futex word: bumped by every handler

// The mailbox's fields are read and written as relaxed atomics, word by
// word: a handler may read while the agent writes (a late signal), which the
// seqlock then discards, and the C++ memory model (and ThreadSanitizer)
// only allow that race between atomic accesses. Relaxed loads and stores of
// aligned words are plain moves: no cost to the handler. (may_alias: the
// words view any mailbox field.)
using Word64 = std::uint64_t __attribute__((may_alias));
using Word32 = std::uint32_t __attribute__((may_alias));
template <typename T>
T load_relaxed(const T& src) {
    static_assert(std::is_trivially_copyable_v<T>);
    T out;
    if constexpr (sizeof(T) % sizeof(std::uint64_t) == 0 && alignof(T) >= alignof(std::uint64_t)) {
        auto* s = reinterpret_cast<const Word64*>(&src);
        auto* d = reinterpret_cast<Word64*>(&out);
        for (std::size_t i = 0; i < sizeof(T) / sizeof(std::uint64_t); ++i)
            d[i] = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
    } else if constexpr (sizeof(T) % sizeof(std::uint32_t) == 0 &&
                         alignof(T) >= alignof(std::uint32_t)) {
        auto* s = reinterpret_cast<const Word32*>(&src);
        auto* d = reinterpret_cast<Word32*>(&out);
        for (std::size_t i = 0; i < sizeof(T) / sizeof(std::uint32_t); ++i)
            d[i] = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
    } else {
        out = __atomic_load_n(&src, __ATOMIC_RELAXED);
    }
    return out;
}

template <typename T>
void store_relaxed(T& dst, const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    if constexpr (sizeof(T) % sizeof(std::uint64_t) == 0 && alignof(T) >= alignof(std::uint64_t)) {
        auto* s = reinterpret_cast<const Word64*>(&value);
        auto* d = reinterpret_cast<Word64*>(&dst);
        for (std::size_t i = 0; i < sizeof(T) / sizeof(std::uint64_t); ++i)
            __atomic_store_n(&d[i], s[i], __ATOMIC_RELAXED);
    } else if constexpr (sizeof(T) % sizeof(std::uint32_t) == 0 &&
                         alignof(T) >= alignof(std::uint32_t)) {
        auto* s = reinterpret_cast<const Word32*>(&value);
        auto* d = reinterpret_cast<Word32*>(&dst);
        for (std::size_t i = 0; i < sizeof(T) / sizeof(std::uint32_t); ++i)
            __atomic_store_n(&d[i], s[i], __ATOMIC_RELAXED);
    } else {
        __atomic_store_n(&dst, value, __ATOMIC_RELAXED);
    }
}

// The rebind handler. Runs on the thread being rebound, on top of whatever
// it was doing: raw syscalls only, errno preserved.
void on_rebind_signal(int) {
    int saved = errno;
    ThreadRecord* tr = t_thread_record;
    if (tr) {
        IssuePlan target;
        std::uint64_t version = 0;
        std::uint32_t round = 0;
        for (int tries = 0; tries < 1 << 16; ++tries) {
            std::uint32_t s1 = tr->mailbox_seq.load(std::memory_order_acquire);
            if (s1 & 1) continue;
            target = load_relaxed(tr->target);
            version = load_relaxed(tr->target_version);
            round = load_relaxed(tr->round_requested);
            // The second read of the sequence is a release read-modify-write
            // (Boehm, "Can seqlocks get along with programming language
            // memory models?"): it keeps the loads above before it and reads
            // the latest value, so an unchanged count means no writer began
            // in between. One uncontended locked add, beside two system
            // calls; and unlike an acquire fence ThreadSanitizer models it.
            if (tr->mailbox_seq.fetch_add(0, std::memory_order_release) == s1) break;
        }
        // A request the thread made after the agent planned always wins.
        // The answer is stored as relaxed atomics too: a late second signal
        // (real-time signals queue) may write it again while the agent reads.
        if (target.needed && version == tr->version) {
            long r = issue_task_policy(target);
            store_relaxed(tr->apply_errno, r < 0 ? static_cast<int>(-r) : 0);
        } else {
            store_relaxed(tr->apply_errno, 0);
        }
        int mode = 0;
        Nodemask nodes;
        long r = raw(SYS_get_mempolicy, &mode, nodes.kernel_data(), Nodemask::kKernelMaxnode, 0, 0);
        store_relaxed(tr->kernel_mode, mode);
        store_relaxed(tr->kernel_nodes, nodes);
        store_relaxed(tr->kernel_errno, r < 0 ? static_cast<int>(-r) : 0);
        tr->round_done.store(round, std::memory_order_release);
    }
    g_answers.fetch_add(1, std::memory_order_release);
    raw(SYS_futex, &g_answers, FUTEX_WAKE_PRIVATE, 1);
    errno = saved;
}

// Picks a real-time signal nobody handles (from SIGRTMAX down) and installs
// the handler. SA_RESTART: the threads' own system calls resume.
bool install_handler() {
    if (g_signal) return true;
    for (int sig = SIGRTMAX; sig >= SIGRTMIN + 2; --sig) {
        struct sigaction old {};
        if (sigaction(sig, nullptr, &old) != 0) continue;
        if (old.sa_handler != SIG_DFL || (old.sa_flags & SA_SIGINFO)) continue;
        struct sigaction sa {};
        sa.sa_handler = on_rebind_signal;
        sa.sa_flags = SA_RESTART;
        sigfillset(&sa.sa_mask);
        if (sigaction(sig, &sa, nullptr) != 0) continue;
        __atomic_store_n(&g_signal, sig, __ATOMIC_RELEASE);
        return true;
    }
    report_failure(Failure::ThreadRebind, "no free real-time signal for thread rebinds");
    return false;
}

std::int64_t now_ms() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace

long issue_task_policy(const IssuePlan& plan) {
    return raw(SYS_set_mempolicy, plan.mode_arg(), plan.nodes.kernel_data(),
               Nodemask::kKernelMaxnode);
}

void plan_thread(ThreadRecord& tr, const IssuePlan& target) {
    tr.mailbox_seq.fetch_add(1, std::memory_order_acq_rel);
    store_relaxed(tr.target, target);
    store_relaxed(tr.target_version, tr.version);
    tr.mailbox_seq.fetch_add(1, std::memory_order_release);
}

ThreadReport read_thread_report(const ThreadRecord& tr) {
    ThreadReport r;
    r.answered = tr.round_done.load(std::memory_order_acquire) != 0;
    r.kernel_mode = load_relaxed(tr.kernel_mode);
    r.kernel_errno = load_relaxed(tr.kernel_errno);
    r.kernel_nodes = load_relaxed(tr.kernel_nodes);
    return r;
}

int rebind_signal() {
    return __atomic_load_n(&g_signal, __ATOMIC_ACQUIRE);
}

ThreadRound start_thread_round(bool apply) {
    ThreadRound started;
    ThreadRoundResult& res = started.result;
    RuntimeState& st = state();
    bool any = false;
    for (ThreadRecord* tr = st.threads; tr; tr = tr->next) any |= tr->has_policy;
    if (!any || !install_handler()) return started;
    std::uint32_t round = g_round.fetch_add(1, std::memory_order_relaxed) + 1;
    started.round = round;
    pid_t pid = static_cast<pid_t>(raw(SYS_getpid));
    for (ThreadRecord* tr = st.threads; tr; tr = tr->next) {
        if (!tr->has_policy) continue;
        if (!apply) plan_thread(*tr, IssuePlan{});
        tr->mailbox_seq.fetch_add(1, std::memory_order_acq_rel);
        store_relaxed(tr->round_requested, round);
        tr->mailbox_seq.fetch_add(1, std::memory_order_release);
        long r = raw(SYS_tgkill, pid, tr->tid, g_signal);
        if (r == -ESRCH) {
            // Exited without running its key destructor (it cannot, unless
            // killed): nothing to keep.
            tr->has_policy = false;
            ++res.gone;
            continue;
        }
        if (r < 0) {
            ++res.errors;
            if (!res.first_errno) res.first_errno = static_cast<int>(-r);
            continue;
        }
        ++res.signalled;
    }
    return started;
}

ThreadRoundResult finish_thread_round(ThreadRound& started, bool apply, int timeout_ms) {
    ThreadRoundResult res = started.result;
    const std::uint32_t round = started.round;
    if (round == 0) return res;
    RuntimeState& st = state();
    std::int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        std::uint32_t seen = g_answers.load(std::memory_order_acquire);
        unsigned answered = 0;
        for (ThreadRecord* tr = st.threads; tr; tr = tr->next)
            if (tr->has_policy && tr->round_done.load(std::memory_order_acquire) == round)
                ++answered;
        res.answered = answered;
        if (answered >= res.signalled) break;
        std::int64_t left = deadline - now_ms();
        if (left <= 0) break;
        timespec ts{static_cast<time_t>(left / 1000), static_cast<long>(left % 1000) * 1000000};
        raw(SYS_futex, &g_answers, FUTEX_WAIT_PRIVATE, seen, &ts);
    }
    for (ThreadRecord* tr = st.threads; tr; tr = tr->next) {
        if (!tr->has_policy || tr->round_done.load(std::memory_order_acquire) != round) continue;
        if (int err = load_relaxed(tr->apply_errno)) {
            ++res.errors;
            if (!res.first_errno) res.first_errno = err;
        } else if (apply && tr->target.needed) {
            ++res.rebound;
        }
    }
    if (res.answered < res.signalled) {
        res.errors += res.signalled - res.answered;
        if (!res.first_errno) res.first_errno = ETIMEDOUT;
    }
    return res;
}

ThreadRoundResult run_thread_round(bool apply, int timeout_ms) {
    ThreadRound started = start_thread_round(apply);
    return finish_thread_round(started, apply, timeout_ms);
}

}  // namespace numakeep::preload
