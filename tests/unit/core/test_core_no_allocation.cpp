// SPDX-License-Identifier: MIT
// The preload runs the rule, the mapping and the parsers with its lock
// held, across fork and in signal context: none of them may allocate. This
// executable counts every operator new and checks that the core makes none.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "numakeep/node_mapping.hpp"
#include "numakeep/nodelist.hpp"
#include "numakeep/proc_stat.hpp"
#include "numakeep/issue_plan.hpp"
#include "numakeep/rebind.hpp"

namespace {
std::atomic<long> g_allocations{0};
}

void* operator new(std::size_t size) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size ? size : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}

using namespace numakeep;

TEST_CASE("the core allocates nothing") {
    const Nodemask m0{0, 1, 2, 3, 700}, m1{2, 5, 1023};
    const Request req{Mode::Bind, kFlagNumaBalancing, Nodemask{1, 3, 700}, 3};
    volatile unsigned sink = 0;
    const long before = g_allocations.load();
    for (Semantics s : {Semantics::Intent, Semantics::Static, Semantics::Relative}) {
        Rebound r = rebind_nodes(req, m0, m1, s);
        sink = sink + r.nodes.count();
    }
    Rebound k = rebind_nodes_kernel(req, Rebound{req.nodes, 3, 0}, m0, m1);
    sink = sink + k.nodes.count();
    sink = sink + remap(req.nodes, m0, m1).count() + relative_nodemask(req.nodes, m1).count() +
           static_cast<unsigned>(bitremap(700, m0, m1)) + fold(m0, 3).count() +
           onto(m0, m1).count();
    ParseResult p = parse_nodelist("+0-1,!x", m0);
    ParseResult q = parse_kernel_nodelist("0-1023:2/256\n");
    sink = sink + p.ok + q.nodes.count();
    char buf[256];
    sink = sink + static_cast<unsigned>(format_error_into(p.error, buf, sizeof buf));
    sink = sink + static_cast<unsigned>(m0.format_into(buf, sizeof buf));
    const Recorded rec{req, m0};
    for (bool assist : {false, true}) {
        const IssuePlan due = plan_issue(rec, m1, IssueSettings{Semantics::Intent, assist});
        const IssuePlan plain = without_assist(due, m1);
        sink = sink + due.nodes.count() + plain.nodes.count() +
               plan_after_request(rec, IssueSettings{Semantics::Intent, assist}).needed;
        sink = sink + assisted_as_plain(rec, due.mode_arg(), due.nodes, m1).needed +
               static_cast<unsigned>(held_form(rec, due.mode_arg(), due.nodes));
    }
    KernelPolicy pol;
    sink = sink + kernel_create(req, m0, pol);
    kernel_rebind(pol, m1);
    sink = sink + static_cast<unsigned>(
                      stat_start_time("1 (a) b) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42 0\n")
                          .value_or(0));
    sink = sink + kernel_readback(pol).nodes.count();
    CHECK(g_allocations.load() == before);
    CHECK(sink > 0);
}
