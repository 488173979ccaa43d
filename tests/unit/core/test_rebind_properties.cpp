// SPDX-License-Identifier: MIT
// The rule's invariants as properties over thousands of random histories:
//   - path independence (DESIGN.md invariant 1): a thread run the way the
//     runtime runs it (the kernel rebinds on its own at every cpuset write,
//     numakeep hears of only some of the writes and issues plan_issue() for
//     each it hears of) always holds rule(request, M0, M_now);
//   - the kernel's own rule drifts on the same histories;
//   - the zero window: a request issued as assisted_relative_mask() with
//     MPOL_F_RELATIVE_NODES is kept at the intent by the kernel alone.
// The kernel model (rebind.hpp: kernel_create, kernel_rebind) is the
// reference the shipped plan is run against.
#include <doctest/doctest.h>

#include <random>

#include "numakeep/issue_plan.hpp"
#include "numakeep/rebind.hpp"

using namespace numakeep;

namespace {

constexpr int kSequences = 5000;
constexpr int kMaxSteps = 12;

// Mems as cpusets have them: never empty, mostly among a few nodes (where
// positions collide and fold), sometimes far beyond 64.
Nodemask random_mems(std::mt19937_64& rng) {
    static const unsigned far[] = {64, 65, 100, 127, 128, 700, 1023};
    Nodemask m;
    while (m.empty()) {
        for (unsigned n = 0; n < 6; ++n)
            if (rng() % 2) m.set(n);
        if (rng() % 4 == 0) m.set(far[rng() % 7]);
    }
    return m;
}

// A request the kernel would have accepted under m0: its nodes meet m0.
Request random_request(std::mt19937_64& rng, const Nodemask& m0, bool set_modes_only) {
    static const Mode all_modes[] = {Mode::Preferred, Mode::Bind, Mode::Interleave,
                                     Mode::PreferredMany, Mode::WeightedInterleave};
    static const Mode set_modes[] = {Mode::Bind, Mode::Interleave, Mode::WeightedInterleave};
    Request r;
    r.mode = set_modes_only ? set_modes[rng() % 3] : all_modes[rng() % 5];
    do {
        r.nodes = Nodemask{};
        if (rng() % 4 == 0) {
            r.nodes = m0 | random_mems(rng);  // covers M0: "the whole cpuset"
        } else {
            for (int n = m0.first(); n >= 0; n = m0.next(static_cast<unsigned>(n) + 1))
                if (rng() % 2) r.nodes.set(static_cast<unsigned>(n));
            if (rng() % 3 == 0) r.nodes |= random_mems(rng);  // and some not allowed
        }
    } while (!r.nodes.intersects(m0));
    if (r.mode == Mode::Preferred)
        r.nodes = Nodemask{static_cast<unsigned>((r.nodes & m0).first())};
    if (r.mode == Mode::Bind && rng() % 4 == 0) r.flags = kFlagNumaBalancing;
    if ((r.mode == Mode::Bind || r.mode == Mode::PreferredMany) && rng() % 3 == 0)
        r.home_node = (r.nodes & m0).nth(static_cast<unsigned>(rng() % (r.nodes & m0).count()));
    return r;
}

// What the kernel is given for a plan: set_mempolicy_home_node() follows
// an mbind with a home node.
Request as_issued(const IssuePlan& p) {
    return Request{p.mode, p.flags, p.nodes, p.home_node};
}

}  // namespace

TEST_CASE("path independence: intent never drifts from rule(request, M0, M_now)") {
    std::mt19937_64 rng(0x6e756d616b656570);
    long steps_checked = 0, reissues = 0, skipped = 0;
    for (int seq = 0; seq < kSequences; ++seq) {
        const Nodemask m0 = random_mems(rng);
        const Request req = random_request(rng, m0, false);
        const bool assist = rng() % 2;
        CAPTURE(seq);
        CAPTURE(to_string(req.mode));
        CAPTURE(req.nodes.to_string());
        CAPTURE(m0.to_string());
        CAPTURE(assist);

        // The program's call, as the preload passes it on, then what follows
        // it (the assisted form, when asked for and possible).
        const IssueSettings settings{Semantics::Intent, assist};
        const Recorded rec{req, m0};
        KernelPolicy pol;
        REQUIRE(kernel_create(req, m0, pol));
        if (const IssuePlan after = plan_after_request(rec, settings); after.needed)
            REQUIRE(kernel_create(as_issued(after), m0, pol));
        REQUIRE(pol.nodes == rebind_nodes(req, m0, m0, Semantics::Intent).nodes);

        const int steps = 1 + static_cast<int>(rng() % kMaxSteps);
        for (int step = 0; step < steps; ++step) {
            const Nodemask m = random_mems(rng);
            kernel_rebind(pol, m);  // the kernel, at the instant of the write
            if (rng() % 3 == 0) {
                ++skipped;  // the daemon coalesced this write with the next
                continue;
            }
            const IssuePlan due = plan_issue(rec, m, settings);
            REQUIRE(due.needed);  // a set mode without flags of its own, under intent
            REQUIRE(due.assisted() == (assist && kernel_assistable(req, Semantics::Intent)));
            ++reissues;
            REQUIRE(kernel_create(as_issued(due), m, pol));
            const Rebound want = rebind_nodes(req, m0, m, Semantics::Intent);
            CAPTURE(m.to_string());
            REQUIRE(pol.nodes == want.nodes);
            REQUIRE(pol.home_node == want.home_node);
            REQUIRE((pol.flags & kFlagNumaBalancing) == (req.flags & kFlagNumaBalancing));
            ++steps_checked;
        }
    }
    MESSAGE(steps_checked << " steps checked, " << reissues << " re-issues, " << skipped
                          << " writes unheard");
    CHECK(steps_checked > 20000);
}

TEST_CASE("the kernel's own rule drifts on the same kind of histories") {
    std::mt19937_64 rng(0x6b65726e656c);
    int drifted = 0, sequences = 0;
    for (int seq = 0; seq < kSequences; ++seq) {
        const Nodemask m0 = random_mems(rng);
        const Request req = random_request(rng, m0, true);
        KernelPolicy pol;
        REQUIRE(kernel_create(req, m0, pol));
        Rebound current{pol.nodes, req.home_node, req.flags};
        Nodemask prev = kernel_first_old_map(req, m0);
        bool drift = false;
        const int steps = 1 + static_cast<int>(rng() % kMaxSteps);
        for (int step = 0; step < steps; ++step) {
            const Nodemask m = random_mems(rng);
            current = rebind_nodes_kernel(req, current, prev, m);
            prev = m;
            kernel_rebind(pol, m);
            // The step rule and the model of struct mempolicy agree...
            REQUIRE(current.nodes == pol.nodes);
            // ...and both leave the rule.
            if (current.nodes != rebind_nodes(req, m0, m, Semantics::Intent).nodes) drift = true;
        }
        ++sequences;
        drifted += drift ? 1 : 0;
    }
    MESSAGE(drifted << " of " << sequences << " kernel-rebound histories drifted from intent");
    CHECK(drifted > sequences / 10);
    // The measured example (DESIGN.md): interleave 0-3 via 0-1 back to 0-3
    // stays on 0-1 under the kernel, returns to 0-3 under intent.
    const Request il{Mode::Interleave, 0, Nodemask::range(0, 3), -1};
    Rebound cur{il.nodes, -1, 0};
    cur = rebind_nodes_kernel(il, cur, Nodemask::range(0, 3), Nodemask::range(0, 1));
    cur = rebind_nodes_kernel(il, cur, Nodemask::range(0, 1), Nodemask::range(0, 3));
    CHECK(cur.nodes == Nodemask::range(0, 1));
    CHECK(rebind_nodes(il, Nodemask::range(0, 3), Nodemask::range(0, 3), Semantics::Intent).nodes ==
          Nodemask::range(0, 3));
}

TEST_CASE("zero window: the assisted relative mask makes the kernel compute intent") {
    std::mt19937_64 rng(0x7a65726f);
    long checked = 0;
    for (int seq = 0; seq < kSequences; ++seq) {
        const Nodemask m0 = random_mems(rng);
        Request req = random_request(rng, m0, true);
        req.home_node = -1;  // the kernel never moves a home node: not its job here
        REQUIRE(kernel_assistable(req, Semantics::Intent));
        const Nodemask rel = assisted_relative_mask(req, m0);
        REQUIRE(!rel.empty());
        // Directly: mpol_relative_nodemask(mask, M) == rule for any M...
        for (int k = 0; k < 4; ++k) {
            const Nodemask m = random_mems(rng);
            REQUIRE(relative_nodemask(rel, m) == rebind_nodes(req, m0, m, Semantics::Intent).nodes);
        }
        // ...and through a history of writes with no user-space work at all.
        KernelPolicy pol;
        const IssuePlan assisted = plan_after_request(Recorded{req, m0}, {Semantics::Intent, true});
        REQUIRE(assisted.assisted());
        REQUIRE(kernel_create(as_issued(assisted), m0, pol));
        REQUIRE(pol.nodes == rebind_nodes(req, m0, m0, Semantics::Intent).nodes);
        const int steps = 1 + static_cast<int>(rng() % kMaxSteps);
        for (int step = 0; step < steps; ++step) {
            const Nodemask m = random_mems(rng);
            kernel_rebind(pol, m);
            REQUIRE(pol.nodes == rebind_nodes(req, m0, m, Semantics::Intent).nodes);
            ++checked;
        }
    }
    CHECK(checked > 20000);
}

TEST_CASE("zero window: who qualifies") {
    const Request il{Mode::Interleave, 0, Nodemask::range(0, 3), -1};
    CHECK(kernel_assistable(il, Semantics::Intent));
    CHECK_FALSE(kernel_assistable(il, Semantics::Static));
    CHECK_FALSE(kernel_assistable(il, Semantics::Kernel));
    for (Mode m : {Mode::Preferred, Mode::PreferredMany, Mode::Default, Mode::Local})
        CHECK_FALSE(kernel_assistable(Request{m, 0, Nodemask{1}, -1}, Semantics::Intent));
    CHECK_FALSE(kernel_assistable(Request{Mode::Bind, kFlagStaticNodes, Nodemask{1}, -1},
                                  Semantics::Intent));
    CHECK_FALSE(kernel_assistable(Request{Mode::Bind, kFlagRelativeNodes, Nodemask{1}, -1},
                                  Semantics::Intent));
    CHECK(kernel_assistable(Request{Mode::Bind, kFlagNumaBalancing, Nodemask{1}, -1},
                            Semantics::Intent));
    // "The whole cpuset" is every bit; a part is its positions.
    CHECK(assisted_relative_mask(il, Nodemask::range(0, 3)) == Nodemask::all());
    CHECK(assisted_relative_mask(Request{Mode::Bind, 0, Nodemask{5, 700}, -1},
                                 Nodemask{1, 5, 100, 700}) == Nodemask{1, 3});
    CHECK(assisted_relative_mask(Request{Mode::Bind, 0, Nodemask{9}, -1}, Nodemask{1, 5}).empty());
    // The plan: the assisted form only when asked for and possible.
    const Recorded at{il, Nodemask::range(0, 3)};
    const IssuePlan plain = plan_issue(at, Nodemask::range(0, 3), {Semantics::Intent, false});
    CHECK(plain == IssuePlan{true, Mode::Interleave, 0, il.nodes, -1});
    const IssuePlan assisted = plan_issue(at, Nodemask::range(0, 3), {Semantics::Intent, true});
    CHECK(assisted == IssuePlan{true, Mode::Interleave, kFlagRelativeNodes, Nodemask::all(), -1});
    CHECK(plan_issue(Recorded{Request{Mode::Bind, 0, Nodemask{9}, -1}, Nodemask{1, 5}},
                     Nodemask{1, 5}, {Semantics::Intent, true})
              .flags == 0);
}

TEST_CASE("intent's first step is the kernel's, except where the whole cpuset grows") {
    // DESIGN.md: "first step equals the kernel's for interleave and bind".
    // It does whenever the request is a part of M0 or the mems do not grow;
    // a request for the whole cpuset grows with it under intent only.
    std::mt19937_64 rng(0x6669727374);
    int differed = 0;
    for (int i = 0; i < kSequences; ++i) {
        const Nodemask m0 = random_mems(rng), m1 = random_mems(rng);
        const Request req = random_request(rng, m0, true);
        const Rebound kernel =
            rebind_nodes_kernel(req, Rebound{req.nodes & m0, req.home_node, req.flags}, m0, m1);
        const Rebound intent = rebind_nodes(req, m0, m1, Semantics::Intent);
        if (!m0.subset_of(req.nodes) || m1.count() <= m0.count()) {
            REQUIRE(intent.nodes == kernel.nodes);
        } else if (intent.nodes != kernel.nodes) {
            ++differed;
            REQUIRE(kernel.nodes.subset_of(intent.nodes));  // the kernel keeps |M0| of them
            REQUIRE(intent.nodes == m1);
        }
    }
    CHECK(differed > 0);
}
