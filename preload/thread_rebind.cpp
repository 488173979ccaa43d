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
#include "rebind_signal.hpp"
#include "runtime.hpp"

namespace numakeep::preload {
namespace {

int g_signal = 0;  // chosen once, lock held
std::atomic<std::uint32_t> g_round{0};
std::atomic<std::uint32_t> g_answers{0};  // futex word: bumped by every handler
std::atomic<unsigned> g_round_waiting{0};  // rounds prepared and not finished

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

// What the kernel holds for the calling thread, into its record's report
// (read on the thread itself: get_mempolicy(2) answers only for current).
void report_policy(ThreadRecord& tr) {
    int mode = 0;
    Nodemask nodes;
    long r = raw(SYS_get_mempolicy, &mode, nodes.kernel_data(), Nodemask::kKernelMaxnode, 0, 0);
    store_relaxed(tr.kernel_mode, mode);
    store_relaxed(tr.kernel_nodes, nodes);
    store_relaxed(tr.kernel_errno, r < 0 ? static_cast<int>(-r) : 0);
    store_relaxed(tr.reported_version, tr.version + 1);
}

// Whether the kernel keeps the thread's plan by itself (kernel
// assistance: the plan is the assisted form, MPOL_F_RELATIVE_NODES, and
// the thread's last report, of its current request, says the kernel holds
// exactly that): then it needs no signal at all.
bool kernel_keeps_plan(const ThreadRecord& tr) {
    if (!tr.target.assisted()) return false;
    if (load_relaxed(tr.reported_version) != tr.version + 1) return false;
    if (load_relaxed(tr.kernel_errno) != 0) return false;
    return load_relaxed(tr.kernel_mode) == tr.target.mode_arg() &&
           load_relaxed(tr.kernel_nodes) == tr.target.nodes;
}

// The rebind work, run by the reserved signal's dispatcher for numakeep's
// own signals only (rebind_signal.hpp). Runs on the thread being rebound,
// on top of whatever it was doing: raw syscalls only, errno preserved.
void on_rebind_signal() {
    int saved = errno;
    ThreadRecord* tr = t_thread_record;
    // A thread with no record of its own that `numakeep set --task` made
    // one for: it takes it now.
    if (!tr) tr = claim_foreign_thread_record();
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
        // A request the thread made after the agent planned always wins,
        // even one whose record is not written yet: the signal interrupted
        // the thread's own set_mempolicy shim right after the system call.
        // The answer is stored as relaxed atomics too: a late second signal
        // (real-time signals queue) may write it again while the agent reads.
        std::atomic_signal_fence(std::memory_order_seq_cst);
        if (target.needed && version == tr->version && !t_in_own_policy_call) {
            long r = issue_task_policy(target);
            store_relaxed(tr->apply_errno, r < 0 ? static_cast<int>(-r) : 0);
        } else {
            if (target.needed && t_in_own_policy_call) t_round_left_to_call = true;
            store_relaxed(tr->apply_errno, 0);
        }
        report_policy(*tr);
        tr->round_done.store(round, std::memory_order_release);
    }
    g_answers.fetch_add(1, std::memory_order_release);
    raw(SYS_futex, &g_answers, FUTEX_WAKE_PRIVATE, 1);
    errno = saved;
}

// Reserves the signal (once) with the work above: the program keeps its
// own view of that signal (rebind_signal.hpp).
bool install_handler() {
    if (g_signal) return true;
    if (!reserve_rebind_signal(on_rebind_signal)) {
        report_failure(Failure::ThreadRebind, "could not reserve the rebind signal");
        return false;
    }
    __atomic_store_n(&g_signal, reserved_signal(), __ATOMIC_RELEASE);
    return true;
}

// How long a round waits before it asks the silent threads' SigBlk: a
// thread that blocks the signal is left out, never waited for.
constexpr int kBlockedCheckMs = 5;

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

void report_own_policy() {
    if (ThreadRecord* tr = t_thread_record; tr && tr->has_policy) report_policy(*tr);
}

int rebind_signal() {
    return __atomic_load_n(&g_signal, __ATOMIC_ACQUIRE);
}

ThreadRound prepare_thread_round(bool apply) {
    ThreadRound started;
    started.apply = apply;
    ThreadRoundResult& res = started.result;
    RuntimeState& st = state();
    bool any = false;
    for (ThreadRecord* tr = st.threads; tr; tr = tr->next) any |= tr->has_policy;
    if (!any || !install_handler()) return started;
    const std::uint32_t round = g_round.fetch_add(1, std::memory_order_relaxed) + 1;
    started.round = round;
    for (ThreadRecord* tr = st.threads; tr; tr = tr->next) {
        if (!tr->has_policy) continue;
        if (apply && !tr->unreachable && tr->target_version == tr->version &&
            kernel_keeps_plan(*tr)) {
            ++res.kept;
            continue;
        }
        if (!apply) plan_thread(*tr, IssuePlan{});
        tr->mailbox_seq.fetch_add(1, std::memory_order_acq_rel);
        store_relaxed(tr->round_requested, round);
        tr->mailbox_seq.fetch_add(1, std::memory_order_release);
        RoundMember m;
        m.record = tr;
        m.tid = tr->tid;
        m.life = tr->life.load(std::memory_order_relaxed);
        m.check_blocked = tr->unreachable;
        started.members.push_back(m);
    }
    g_round_waiting.fetch_add(1, std::memory_order_relaxed);
    return started;
}

void send_thread_round(ThreadRound& started) {
    if (started.round == 0) return;
    const pid_t pid = static_cast<pid_t>(raw(SYS_getpid));
    for (RoundMember& m : started.members) {
        // Still blocked since the last round: its signal of then is
        // pending; another would only queue behind it.
        if (m.check_blocked && thread_blocks_rebind_signal(m.tid)) {
            m.unreachable = true;
            continue;
        }
        long r = send_rebind_signal(pid, m.tid);
        if (r == -ESRCH) {
            // Exited; its record is gone, or (killed before its key
            // destructor ran) dropped when the round ends.
            m.gone = true;
            continue;
        }
        if (r < 0) {
            m.send_errno = static_cast<int>(-r);
            continue;
        }
        m.signalled = true;
    }
}

namespace {

bool member_gone(const RoundMember& m) {
    return m.gone || m.record->life.load(std::memory_order_acquire) != m.life;
}

bool member_answered(const RoundMember& m, std::uint32_t round) {
    return m.record->round_done.load(std::memory_order_acquire) == round;
}

}  // namespace

void note_thread_gone(ThreadRecord&) {
    if (g_round_waiting.load(std::memory_order_relaxed) == 0) return;
    g_answers.fetch_add(1, std::memory_order_release);
    raw(SYS_futex, &g_answers, FUTEX_WAKE_PRIVATE, 1);
}

ThreadRoundResult finish_thread_round(ThreadRound& started, int timeout_ms) {
    ThreadRoundResult res = started.result;
    const std::uint32_t round = started.round;
    if (round == 0) return res;
    const std::int64_t start = now_ms();
    const std::int64_t deadline = start + timeout_ms;
    bool blocked_checked = false;
    for (;;) {
        const std::uint32_t seen = g_answers.load(std::memory_order_acquire);
        bool waiting = false;
        for (const RoundMember& m : started.members)
            waiting |= m.signalled && !m.unreachable && !member_gone(m) &&
                       !member_answered(m, round);
        if (!waiting) break;
        const std::int64_t now = now_ms();
        if (!blocked_checked && now - start >= kBlockedCheckMs) {
            // A thread that blocks the signal (an inline rt_sigprocmask)
            // cannot answer: reported unreachable, not waited for.
            blocked_checked = true;
            for (RoundMember& m : started.members)
                if (m.signalled && !m.unreachable && !member_gone(m) &&
                    !member_answered(m, round) && thread_blocks_rebind_signal(m.tid))
                    m.unreachable = true;
            continue;
        }
        const std::int64_t left = (blocked_checked ? deadline : start + kBlockedCheckMs) - now;
        if (blocked_checked && left <= 0) break;
        if (left <= 0) continue;
        timespec ts{static_cast<time_t>(left / 1000), static_cast<long>(left % 1000) * 1000000};
        raw(SYS_futex, &g_answers, FUTEX_WAIT_PRIVATE, seen, &ts);
    }
    g_round_waiting.fetch_sub(1, std::memory_order_relaxed);

    // What the round found. The records are written (under the lock, an
    // instant) only when a thread's reachability changed or it is gone: a
    // round whose threads all answered, as before, takes no lock at all.
    // (Only this thread writes a mailbox's plan: it reads it unlocked.)
    bool changed = false;
    for (RoundMember& m : started.members) {
        // Unblocked it since, and answered after all.
        m.unreachable = m.unreachable && !member_answered(m, round);
        changed |= m.gone || m.unreachable != m.check_blocked;
    }
    if (changed) {
        RecordLock lock;
        for (const RoundMember& m : started.members) {
            ThreadRecord& tr = *m.record;
            // Exited meanwhile: the record may serve another thread by now.
            if (tr.life.load(std::memory_order_acquire) != m.life) continue;
            tr.unreachable = m.unreachable;
            if (m.gone) tr.has_policy = false;
        }
    }
    for (const RoundMember& m : started.members) {
        ThreadRecord& tr = *m.record;
        if (m.unreachable) {
            ++res.unreachable;
            continue;
        }
        if (m.gone) {
            ++res.gone;
            continue;
        }
        // Exited meanwhile, without our noticing in time: not counted.
        if (tr.life.load(std::memory_order_acquire) != m.life) continue;
        const bool answered = member_answered(m, round);
        if (m.send_errno) {
            ++res.errors;
            if (!res.first_errno) res.first_errno = m.send_errno;
            continue;
        }
        if (!m.signalled) continue;
        ++res.signalled;
        if (!answered) {
            ++res.silent;
            ++res.errors;
            if (!res.first_errno) res.first_errno = ETIMEDOUT;
            continue;
        }
        ++res.answered;
        if (int err = load_relaxed(tr.apply_errno)) {
            ++res.errors;
            if (!res.first_errno) res.first_errno = err;
        } else if (started.apply && tr.target.needed) {
            ++res.rebound;
        }
    }
    return res;
}

ThreadRoundResult run_thread_round(bool apply, int timeout_ms) {
    ThreadRound started;
    {
        RecordLock lock;
        started = prepare_thread_round(apply);
    }
    send_thread_round(started);
    return finish_thread_round(started, timeout_ms);
}

}  // namespace numakeep::preload
