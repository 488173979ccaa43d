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
// The pure half lives here (unit tests link it); kernel_assist.cpp issues
// and reads back.
#pragma once

#include <cstdint>

#include "numakeep/nodemask.hpp"
#include "numakeep/policy.hpp"
#include "numakeep/rebind.hpp"
#include "runtime.hpp"

namespace numakeep::preload {

// get_mempolicy(2) flags (include/uapi/linux/mempolicy.h).
inline constexpr unsigned long kGetNode = 1UL << 0;         // MPOL_F_NODE
inline constexpr unsigned long kGetAddr = 1UL << 1;         // MPOL_F_ADDR
inline constexpr unsigned long kGetMemsAllowed = 1UL << 2;  // MPOL_F_MEMS_ALLOWED

// The form a policy is issued in when assistance is on: the request's own
// (mode, flags, nodes) when it does not qualify (see kernel_assistable()),
// else (mode, flags | MPOL_F_RELATIVE_NODES, assisted_relative_mask()).
// The home node is the rule's: the kernel never remaps it.
inline Rebound assisted_issue(const Recorded& rec, Semantics s) {
    return issue_at_request(rec.request, rec.mems_at_request, s, true);
}
inline bool is_assisted_form(const Rebound& issued, const Request& req) {
    return (issued.flags & kFlagRelativeNodes) && !(req.flags & kFlagRelativeNodes);
}

// Whether the kernel's `kernel_mode` (mode | flags, as get_mempolicy
// answers) is the assisted form of `req`.
constexpr bool kernel_mode_is_assisted(const Request& req, int kernel_mode) {
    return kernel_remaps(req.mode) && !has_own_mapping(req) &&
           kernel_mode == (static_cast<int>(req.mode) | req.flags | kFlagRelativeNodes);
}

// Whether the relative mask the kernel reads back (pol->w, cut by
// copy_nodes_to_user() to BITS_TO_LONGS(nr_node_ids) words, the rest
// zeroed) is `expected`. An all-bits mask ("the whole cpuset") reads back
// as whole words of ones followed by zeros.
constexpr bool relative_mask_matches(const Nodemask& readback, const Nodemask& expected) {
    if (expected != Nodemask::all()) return readback == expected;
    const auto& w = readback.words();
    unsigned ones = 0;
    while (ones < kWords && w[ones] == ~std::uint64_t{0}) ++ones;
    if (ones == 0) return false;
    for (unsigned i = ones; i < kWords; ++i)
        if (w[i] != 0) return false;
    return true;
}

// The nodes in force for a policy of `mode` the kernel holds with
// MPOL_F_RELATIVE_NODES and the user mask `relative` under `mems`
// (mpol_set_nodemask() / mpol_rebind_nodemask(): relative(w, mems), the
// mems when that is empty): what get_mempolicy would have answered had the
// program's own call been issued and kept to its intent.
constexpr Nodemask assisted_nodes_in_force(Mode mode, const Nodemask& relative,
                                           const Nodemask& mems) {
    KernelPolicy pol;
    if (!kernel_create(Request{mode, kFlagRelativeNodes, relative, -1}, mems, pol)) return {};
    return pol.nodes;
}

// What the kernel holds for a recorded policy whose readback was
// (kernel_mode, kernel_nodes): Assisted when it is the assisted form with
// the expected relative mask, Plain when it is the request's own mode,
// Other otherwise (foreign: never clobber).
enum class Held { Plain, Assisted, Other };
constexpr Held held_form(const Recorded& rec, int kernel_mode, const Nodemask& kernel_nodes) {
    const Request& req = rec.request;
    if (kernel_mode == (static_cast<int>(req.mode) | req.flags)) return Held::Plain;
    if (kernel_mode_is_assisted(req, kernel_mode) &&
        relative_mask_matches(kernel_nodes, assisted_relative_mask(req, rec.mems_at_request)))
        return Held::Assisted;
    return Held::Other;
}

// For get_mempolicy and records dumps: turns an assisted readback into the
// program's mode and the nodes in force under `mems`; leaves anything else
// alone. True when it was assisted.
constexpr bool present_assisted(const Recorded& rec, int& kernel_mode, Nodemask& kernel_nodes,
                                const Nodemask& mems) {
    if (held_form(rec, kernel_mode, kernel_nodes) != Held::Assisted) return false;
    kernel_mode &= ~static_cast<int>(kFlagRelativeNodes);
    kernel_nodes = assisted_nodes_in_force(
        rec.request.mode, assisted_relative_mask(rec.request, rec.mems_at_request), mems);
    return true;
}

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

// Whether requests are to be assisted now (NUMAKEEP_KERNEL_ASSIST, else the
// daemon's default) and `req` qualifies.
bool assist_wanted(const Request& req);
// Before a successful mbind/set_mempolicy of `mode_arg` is recorded
// (record lock held): whether it may be assisted (assistance on, intent,
// a mode the kernel remaps, no mode flags). If so, the mems kept for new
// requests are refreshed first: the relative mask is taken against the
// mems of this very instant (the kept ones may predate a cpuset write
// whose Rebind has not come, or never comes when no daemon runs), so both
// forms place pages alike the moment the assisted one replaces the
// program's.
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

// What a rebind issues for a record under m1 (planned_request()'s rule),
// in the assisted form when assistance is wanted and the record qualifies:
// flags | MPOL_F_RELATIVE_NODES, nodes the relative mask, the rule's home
// node. False when nothing is to be issued.
bool planned_issue(const Recorded& rec, const Nodemask& m1, Semantics s, Request& out);

// Whether this process ever issued an assisted form (a cheap gate for the
// get_mempolicy path; inherited across fork).
bool assist_ever_used();

}  // namespace numakeep::preload
