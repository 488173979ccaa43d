// SPDX-License-Identifier: MIT
// Kernel assistance (DESIGN.md "Zero window"): for a set-mode
// request the kernel remaps by itself (bind, interleave, weighted
// interleave) made without mode flags under `intent`, the runtime lets the
// kernel hold the policy as (mode | MPOL_F_RELATIVE_NODES, the request's
// positions inside M0): the kernel then computes the intent at the instant
// of every cpuset.mems write, with no window and no daemon message.
//
// How a request becomes assisted: the program's own call is issued first,
// unchanged, and what it returns (value and errno) is what the program
// sees; only when it succeeded is the same policy issued again in the
// assisted form, under the same record lock. At that instant both forms
// place pages on the same nodes (relative(ord_M0(U∩M0), M0) == U∩M0), so
// no page lands differently; a cpuset write between the two calls is
// answered by the second one (the kernel computes the relative mask
// against the new mems). Issuing the assisted form first would need the
// program's mask read before the kernel checked it, and could succeed
// where the program's own call fails (a mask with no node of the mems of
// now, bits past MAX_NUMNODES): never.
//
// Which policies are assisted is read from the kernel, not remembered: a
// range or thread whose record has no MPOL_F_RELATIVE_NODES while the
// kernel holds the record's mode with it. The records stay exactly what
// the program asked for.
//
// What to issue, and how a readback is recognised as the assisted form,
// is decided in include/numakeep/issue_plan.hpp; kernel_assist.cpp issues
// and reads back.
#pragma once

#include <cstdint>

#include "numakeep/issue_plan.hpp"
#include "numakeep/mpol.hpp"
#include "numakeep/nodemask.hpp"
#include "numakeep/policy.hpp"
#include "runtime.hpp"

namespace numakeep::preload {

// Writes `nodes` into a caller's get_mempolicy buffer the way the kernel
// wrote its answer there (copy_nodes_to_user(): ALIGN(maxnode - 1, 64)
// bits, whole words); words past our 1024 bits were zeroed by the kernel
// and stay so.
inline void write_user_nodes(unsigned long* mask, unsigned long maxnode, const Nodemask& nodes) {
    if (!mask || maxnode <= 1) return;
    constexpr unsigned long kBits = sizeof(unsigned long) * 8;
    unsigned long words = (maxnode - 1 + kBits - 1) / kBits;
    if (words > kWords) words = kWords;
    for (unsigned long i = 0; i < words; ++i) mask[i] = nodes.words()[i];
}

// --- the runtime's half (kernel_assist.cpp) --------------------------------

// Before a successful mbind/set_mempolicy of `mode_arg` is recorded
// (record lock held): whether it may be assisted (assistance on and
// kernel_assistable_mode()). If so, the mems kept for new requests are
// refreshed first: the relative mask is taken against the mems of this
// very instant (the kept ones may predate a cpuset write whose Rebind has
// not come, or never comes when no daemon runs), so both forms place pages
// alike the moment the assisted one replaces the program's.
bool assist_prepare_on(int mode_arg);
inline bool assist_prepare(int mode_arg) {  // inline test: see ensure_init()
    return config().kernel_assist && assist_prepare_on(mode_arg);
}
// After the program's own successful mbind of [start, start+len) was
// recorded (record lock held): issues the assisted form of the record
// over the same range. Leaves the program's policy in place when the
// kernel refuses it.
void assist_range(std::uint64_t start, std::uint64_t len);
// The same for the calling thread's record after its own successful
// set_mempolicy, and for any thread record (exec, inherited policies).
void assist_own_thread();
void assist_thread(const Recorded& rec);

// The daemon's default just turned assistance on (record lock held):
// ranges recorded before, still held in the program's own form, are
// issued in the assisted form now rather than at the first rebind.
// Threads follow at the first rebind (only a thread can set its own).
void assist_convert_ranges();

// get_mempolicy, after the real call returned `result` for these
// arguments: rewrites the caller's mode and nodes for an assisted range or
// thread into what the program's own policy, kept to its intent, reads
// back (mode without MPOL_F_RELATIVE_NODES, the nodes in force). The
// return value and errno are never touched.
void assist_translate_get_mempolicy(long result, int* mode, unsigned long* nodemask,
                                    unsigned long maxnode, void* addr, unsigned long flags);

// exec keeps the task policy (and drops every mapping): an assisted task
// policy would reach the new image as the program's own RELATIVE request.
// Before exec the calling thread's assisted policy is issued plain with
// its nodes in force; after a failed exec, assisted again (lock held).
void assist_before_exec();
void assist_after_failed_exec();

// Notes that an assisted form is about to reach the kernel (the gate of
// assist_ever_used()).
void note_assist_used();

// Whether this process ever issued an assisted form (a cheap gate for the
// get_mempolicy path; inherited across fork).
bool assist_ever_used();

}  // namespace numakeep::preload
