// SPDX-License-Identifier: MIT
#include "set_executor.hpp"

#include <fcntl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <vector>

#include "numakeep/issue_plan.hpp"
#include "numakeep/rebind.hpp"
#include "page_mover.hpp"
#include "raw_syscall.hpp"
#include "rebind_executor.hpp"
#include "record_keeper.hpp"
#include "record_ops.hpp"
#include "runtime.hpp"
#include "thread_rebind.hpp"

namespace numakeep::preload {
namespace {

// Longer than a rebind's round (rebind_executor.cpp): nothing races a set,
// and with many processes on few CPUs a signalled thread may wait long to
// be scheduled; a thread that still does not answer is reported, not
// waited for.
constexpr int kThreadTimeoutMs = 5000;
constexpr unsigned kMaxTasks = 4096;

// The latest origins, by id modulo the size; an id whose slot was reused
// is shown as a `set` of unknown caller.
constexpr unsigned kOrigins = 64;
SetOrigin g_origins[kOrigins];
std::uint32_t g_next_origin = 1;

std::uint64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL +
           static_cast<std::uint64_t>(ts.tv_nsec);
}

// The ids of the process's threads (/proc/self/task), read with raw
// getdents64 before the record lock is taken: up to `cap`.
unsigned list_tasks(pid_t* out, unsigned cap) {
    long fd = raw(SYS_openat, AT_FDCWD, "/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return 0;
    unsigned n = 0;
    alignas(8) char buf[4096];
    for (;;) {
        long got = raw(SYS_getdents64, fd, buf, sizeof buf);
        if (got <= 0) break;
        for (long off = 0; off < got;) {
            // struct linux_dirent64: d_ino, d_off, d_reclen, d_type, d_name.
            unsigned short reclen;
            __builtin_memcpy(&reclen, buf + off + 16, sizeof reclen);
            const char* name = buf + off + 19;
            pid_t tid = 0;
            bool digits = *name != '\0';
            for (const char* c = name; *c; ++c) {
                if (*c < '0' || *c > '9') {
                    digits = false;
                    break;
                }
                tid = tid * 10 + (*c - '0');
            }
            if (digits && n < cap) out[n++] = tid;
            off += reclen;
        }
    }
    raw(SYS_close, fd);
    return n;
}

void count_error(proto::SetApplied& out, int err) {
    ++out.errors;
    if (!out.first_errno) out.first_errno = err;
}

std::uint32_t note_origin(const proto::SetRequest& req) {
    std::uint32_t id = g_next_origin++;
    if (g_next_origin == 0) g_next_origin = 1;
    g_origins[id % kOrigins] = SetOrigin{id, req.caller_pid, req.caller_uid, req.unix_ms};
    return id;
}

// --ranges: every recorded range, or the pieces of them inside the range
// asked for, re-issued with the new policy and recorded as its request
// (lock held).
void set_ranges(const proto::SetRequest& req, const Recorded& rec, bool keep, const IssuePlan& plan,
                proto::SetApplied& out) {
    RangeStore& store = ranges();
    std::uint64_t lo = 0, hi = ~std::uint64_t{0};
    if (req.options & proto::kSetRange) {
        lo = req.range_start & ~(kPageSize - 1);
        hi = req.range_end;
    }
    std::vector<std::pair<std::uint64_t, std::uint64_t>> pieces;
    store.for_each_in(lo, hi, [&](const RangeStore::Range& r) {
        pieces.emplace_back(r.start < lo ? lo : r.start, r.end > hi ? hi : r.end);
    });
    bool forgot = false;
    for (auto [s, e] : pieces) {
        s &= ~(kPageSize - 1);
        e = page_round_up(e);
        if (s >= e) continue;
        long r = issue_range_policy(s, e - s, plan);
        if (r == 0 && keep && plan.home_node >= 0)
            r = raw(SYS_set_mempolicy_home_node, s, e - s, plan.home_node, 0);
        if (r < 0) {
            count_error(out, static_cast<int>(-r));
            // EFAULT: part of it went away behind our back: forget it.
            if (r == -EFAULT) {
                store.punch(s, e);
                forgot = true;
            }
            continue;
        }
        if (keep) {
            store.set(s, e, rec);
        } else {
            store.punch(s, e);
            forgot = true;
        }
        ++out.ranges_set;
    }
    if (forgot) refresh_tracked();
}

// --task: every thread of the process but the agent sets the policy
// itself, in the rebind signal's handler. Planned under the record lock,
// signalled and collected without it (no call of the program waits on a
// round), concluded under it again.
struct TaskSet {
    ThreadRound round;
    ThreadRecord* made[kMaxTasks];
    unsigned made_count = 0;
};

// Plans every thread's policy and prepares the round (lock held).
void plan_threads(const pid_t* tids, unsigned n, const Recorded& rec, const IssuePlan& plan,
                  TaskSet& set, proto::SetApplied& out) {
    const pid_t agent = own_tid();
    for (unsigned i = 0; i < n; ++i) {
        if (tids[i] == agent) continue;
        ThreadRecord* tr = thread_record_of(tids[i]);
        if (!tr) {
            tr = foreign_thread_record(tids[i]);
            if (!tr) {
                count_error(out, ENOMEM);
                continue;
            }
            set.made[set.made_count++] = tr;
        }
        // In the round even when the policy needs no keeping (default,
        // local): has_policy is what rounds look at.
        tr->has_policy = true;
        tr->rec = rec;
        ++tr->version;  // the thread's own later call wins over this
        plan_thread(*tr, plan);
    }
    set.round = prepare_thread_round(true);
}

// What the round found (lock held).
void conclude_threads(const Recorded& rec, bool keep, const ThreadRoundResult& res, TaskSet& set,
                      proto::SetApplied& out) {
    out.threads_set = res.rebound;
    out.threads_unreachable = res.unreachable;
    out.threads_silent = res.silent;
    out.errors += res.errors;
    if (!out.first_errno) out.first_errno = res.first_errno;
    if (!keep)
        for (ThreadRecord* tr = state().threads; tr; tr = tr->next)
            if (tr->rec == rec) tr->has_policy = false;
    // Records not claimed by a thread that is gone (the round found it so),
    // or that nothing needs to keep: given back. One whose thread only did
    // not answer in time stays, for it to claim at the next round.
    for (unsigned i = 0; i < set.made_count; ++i)
        if (!set.made[i]->has_policy) forget_unclaimed_thread_record(set.made[i]);
}

}  // namespace

bool find_set_origin(std::uint32_t id, SetOrigin& out) {
    if (id == 0) return false;
    const SetOrigin& o = g_origins[id % kOrigins];
    if (o.id != id) return false;
    out = o;
    return true;
}

SetResult execute_set(const proto::SetRequest& req) {
    SetResult result;
    result.started_ns = now_ns();
    proto::SetApplied& out = result.applied;
    out.set_id = req.set_id;
    Request request;
    if (req.mode >= kModeCount || (req.flags & ~kModeFlagsMask)) {
        count_error(out, EINVAL);
        return result;
    }
    request.mode = static_cast<Mode>(req.mode);
    request.flags = req.flags;
    request.nodes = req.nodes;
    request.home_node = req.home_node;
    const bool keep = worth_recording(request);

    static pid_t tids[kMaxTasks];  // the agent thread alone runs this
    unsigned ntids = (req.scope & proto::kSetTask) ? list_tasks(tids, kMaxTasks) : 0;
    Nodemask mems;
    Recorded rec;
    TaskSet threads;
    const bool task = (req.scope & proto::kSetTask) != 0;
    {
        RecordLock lock;
        // As the program's own call: issued as asked, recorded under the
        // mems of now (refreshed: the kept value may predate a change).
        refresh_request_mems();
        mems = request_mems();
        rec = Recorded{request, mems, note_origin(req)};
        const IssuePlan plan{true, request.mode, request.flags, request.nodes, request.home_node};
        if (req.scope & proto::kSetRanges) set_ranges(req, rec, keep, plan, out);
        if (task) plan_threads(tids, ntids, rec, plan, threads, out);
    }
    if (task) {
        send_thread_round(threads.round);
        const ThreadRoundResult res = finish_thread_round(threads.round, kThreadTimeoutMs);
        RecordLock lock;
        conclude_threads(rec, keep, res, threads, out);
    }
    // Pages follow what was set, even where a thread did not answer (its
    // record holds the request, which the respread works from).
    result.move = (req.options & proto::kSetMove) && (out.ranges_set || out.threads_set);
    result.mems = mems;
    result.rate_mib = req.placement_rate_mib;
    out.duration_ns = now_ns() - result.started_ns;
    return result;
}

bool move_set_pages(SetResult& s, bool (*should_stop)()) {
    const RespreadResult moved = respread(s.mems, true, s.rate_mib, should_stop);
    s.applied.pages_moved += moved.pages_moved;  // a resumed move goes on counting
    if (moved.cancelled) return false;
    s.applied.moved = 1;
    s.applied.pages_skipped = moved.pages_skipped;  // the last pass saw what stays
    s.applied.duration_ns = now_ns() - s.started_ns;
    return true;
}

}  // namespace numakeep::preload
