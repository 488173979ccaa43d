// SPDX-License-Identifier: MIT
// The answer to DumpRecords: one RangeEntry per range record and one
// ThreadEntry per thread with a task policy, each with the request, its M0,
// what the rule gives under the mems of now, and what the kernel holds now
// (ranges: get_mempolicy MPOL_F_ADDR; threads: each thread reads its own in
// the rebind signal handler), then RecordsEnd.
#pragma once

#include "kernel_assist.hpp"
#include "numakeep/issue_plan.hpp"
#include "numakeep/protocol.hpp"
#include "numakeep/rebind.hpp"
#include "rebind_executor.hpp"
#include "record_keeper.hpp"
#include "runtime.hpp"
#include "set_executor.hpp"
#include "thread_rebind.hpp"

namespace numakeep::preload {

// An assisted readback shown as the program's own form (assisted_as_plain()):
// rewrites the mode and nodes; true when it was assisted.
inline bool present_plain(const Recorded& rec, int& kernel_mode, Nodemask& kernel_nodes,
                          const Nodemask& mems_now) {
    const IssuePlan plain = assisted_as_plain(rec, kernel_mode, kernel_nodes, mems_now);
    if (!plain.needed) return false;
    kernel_mode = plain.mode_arg();
    kernel_nodes = plain.nodes;
    return true;
}

inline proto::PolicyEntry policy_entry(std::uint32_t request_id, const Recorded& rec,
                                       const Nodemask& mems_now) {
    proto::PolicyEntry e;
    e.request_id = request_id;
    e.mode = static_cast<std::uint16_t>(rec.request.mode);
    e.flags = rec.request.flags;
    e.home_node = rec.request.home_node;
    e.requested = rec.request.nodes;
    e.mems_at_request = rec.mems_at_request;
    if (rec.origin != 0) {
        e.origin = proto::kOriginSet;
        SetOrigin o;
        if (find_set_origin(rec.origin, o)) {
            e.set_by_pid = o.pid;
            e.set_by_uid = o.uid;
            e.set_unix_ms = o.unix_ms;
        }
    }
    const IssuePlan planned = plan_issue(rec, mems_now, IssueSettings{config().semantics, false});
    if (planned.needed) {
        e.rule_now = planned.nodes;
        e.rule_home_node = planned.home_node;
    } else {
        // Flags of its own or `kernel` semantics: the kernel's rule holds.
        e.rule_now =
            rebind_nodes(rec.request, rec.mems_at_request, mems_now, Semantics::Static).nodes;
        e.rule_home_node = rec.request.home_node;
    }
    return e;
}

// send(MsgType, const Body&) -> bool sends one frame; false stops the dump.
template <typename Send>
bool dump_records(std::uint32_t request_id, Send&& send) {
    // Every thread reports what the kernel holds for it: a round without
    // the record lock (no call of the program waits on it).
    run_thread_round(false, 500);
    RecordLock lock;
    RuntimeState& st = state();
    const Nodemask mems_now = current_mems();
    proto::RecordsEnd end;
    end.request_id = request_id;
    bool ok = true;
    ranges().for_each([&](const RangeStore::Range& r) {
        if (!ok) return;
        proto::PolicyEntry e = policy_entry(request_id, *r.rec, mems_now);
        e.start = r.start;
        e.end = r.end;
        int mode = 0, err = 0;
        kernel_holds(r.start, r.rec->request, mode, e.kernel_now, err);
        // Kernel-assisted: shown as the program's mode and the nodes in force, marked.
        e.assisted = err == 0 && present_plain(*r.rec, mode, e.kernel_now, mems_now);
        e.kernel_mode = static_cast<std::uint16_t>(mode);
        e.kernel_ok = err == 0;
        ok = send(proto::MsgType::RangeEntry, e);
        ++end.ranges;
    });
    for (ThreadRecord* tr = st.threads; tr && ok; tr = tr->next) {
        if (!tr->has_policy) continue;
        proto::PolicyEntry e = policy_entry(request_id, tr->rec, mems_now);
        e.tid = tr->tid;
        const ThreadReport report = read_thread_report(*tr);
        int mode = report.kernel_mode;
        e.kernel_now = report.kernel_nodes;
        e.kernel_ok = tr->unreachable ? proto::kKernelUnreachable
                      : report.kernel_errno == 0 && report.answered ? proto::kKernelRead
                                                                    : proto::kKernelUnread;
        e.assisted = e.kernel_ok == proto::kKernelRead &&
                     present_plain(tr->rec, mode, e.kernel_now, mems_now);
        e.kernel_mode = static_cast<std::uint16_t>(mode);
        ok = send(proto::MsgType::ThreadEntry, e);
        ++end.threads;
    }
    end.truncated = ok ? 0 : 1;
    return ok && send(proto::MsgType::RecordsEnd, end);
}

}  // namespace numakeep::preload
