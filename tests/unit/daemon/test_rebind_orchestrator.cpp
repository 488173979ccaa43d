// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include "rebind_orchestrator.hpp"

using namespace numakeep;
using namespace numakeep::daemon;

namespace {
const Nodemask kAll = Nodemask::range(0, 3);
const Nodemask kLow = Nodemask::range(0, 1);
const Nodemask kHigh = Nodemask::range(2, 3);
}  // namespace

TEST_CASE("a fresh process with nothing recorded and the cgroup's mems is current") {
    RebindOrchestrator o(1000, 8, 100);
    o.add_process(10, "/a", kAll, 0, kAll, false);
    CHECK(o.process(10)->current());
    CHECK(o.due(0).send.empty());
}

TEST_CASE("a process with records and an unknown generation is brought current at once") {
    RebindOrchestrator o(1000, 8, 100);
    o.add_process(10, "/a", kAll, 0, kAll, true);
    auto w = o.due(0);
    REQUIRE(w.send.size() == 1);
    CHECK(w.send[0].pid == 10);
    CHECK(w.send[0].mems == kAll);
    CHECK(w.send[0].generation > 1000);
    auto d = o.on_done(10, w.send[0].generation, 7);
    CHECK(d.accepted);
    CHECK(d.current);
    CHECK(d.round_trip_ms == 7);
    CHECK(o.in_flight() == 0);
}

TEST_CASE("a cgroup change retargets every member; a done of another generation is refused") {
    RebindOrchestrator o(0, 8, 100);
    o.add_process(1, "/a", kAll, 0, kAll, false);
    o.add_process(2, "/a", kAll, 0, kAll, false);
    o.add_process(3, "/b", kAll, 0, kAll, false);
    auto g = o.cgroup_changed("/a", kLow);
    auto w = o.due(0);
    REQUIRE(w.send.size() == 2);
    CHECK(w.send[0] == RebindCommand{1, g, kLow});
    CHECK(w.send[1] == RebindCommand{2, g, kLow});
    CHECK_FALSE(o.on_done(1, g + 100, 1).accepted);
    auto d = o.on_done(1, g, 1);
    CHECK(d.accepted);
    CHECK(d.old_mems == kAll);
    CHECK(d.new_mems == kLow);
    CHECK(o.process(3)->current());
    CHECK_FALSE(o.process(2)->current());
}

TEST_CASE("a write back to the same mems still takes a new generation (the kernel was lossy)") {
    RebindOrchestrator o(0, 8, 100);
    o.add_process(1, "/a", kAll, 0, kAll, false);
    auto g1 = o.cgroup_changed("/a", kLow);
    auto g2 = o.cgroup_changed("/a", kAll);
    CHECK(g2 > g1);
    auto w = o.due(0);
    REQUIRE(w.send.size() == 1);
    CHECK(w.send[0] == RebindCommand{1, g2, kAll});
    // The reconcile seeing the same mems changes nothing.
    CHECK(o.cgroup_changed("/a", kAll) == 0);
    CHECK(o.cgroup_changed("/a", kHigh) > g2);
}

TEST_CASE("mems read back unchanged after writes never read still rebind") {
    // 0-3 -> 0-1 -> 0-3 between two reads: the kernel rebound every policy
    // through 0-1, so equal mems are a change the processes must answer.
    RebindOrchestrator o(0, 8, 100);
    o.add_process(1, "/a", kAll, 0, kAll, false);
    CHECK(o.cgroup_changed("/a", kAll) == 0);
    auto g = o.cgroup_changed("/a", kAll, true);
    CHECK(g > 0);
    auto w = o.due(0);
    REQUIRE(w.send.size() == 1);
    CHECK(w.send[0] == RebindCommand{1, g, kAll});
}

TEST_CASE("a second event with the same mems requests nothing") {
    // One write raises IN_MODIFY (twice, DESIGN.md) and IN_CLOSE_WRITE: the events that
    // find the mems already answered must not rebind again.
    RebindOrchestrator o(0, 8, 100);
    o.add_process(1, "/a", kAll, 0, kAll, false);
    o.add_process(2, "/a", kAll, 0, kAll, false);
    auto g = o.cgroup_changed("/a", kLow);
    // A second event before anyone answered: nothing new to send.
    CHECK(o.cgroup_changed("/a", kLow) == 0);
    auto w = o.due(0);
    REQUIRE(w.send.size() == 2);
    CHECK(w.send[0] == RebindCommand{1, g, kLow});
    CHECK(w.send[1] == RebindCommand{2, g, kLow});
    CHECK(o.on_done(1, g, 1).current);
    CHECK(o.on_done(2, g, 1).current);
    // The third event, after both applied: still nothing, nobody pending.
    CHECK(o.cgroup_changed("/a", kLow) == 0);
    CHECK(o.due(2).send.empty());
    CHECK(o.process(1)->current());
    CHECK(o.process(2)->current());
    CHECK(o.cgroup("/a")->generation == g);
    // The next real change is one command each.
    auto g2 = o.cgroup_changed("/a", kAll);
    CHECK(g2 > g);
    CHECK(o.due(3).send.size() == 2);
}

TEST_CASE("concurrency is bounded and a late process gives its slot back") {
    RebindOrchestrator o(0, 2, 100);
    for (int pid = 1; pid <= 5; ++pid) o.add_process(pid, "/a", kAll, 0, kAll, false);
    auto g = o.cgroup_changed("/a", kLow);
    auto w = o.due(0);
    CHECK(w.send.size() == 2);
    CHECK(o.in_flight() == 2);
    // pid 1 answers, pid 2 is stopped.
    o.on_done(1, g, 5);
    w = o.due(10);
    REQUIRE(w.send.size() == 1);
    CHECK(w.send[0].pid == 3);
    // pid 2 misses its deadline: its slot goes to pid 4.
    w = o.due(100);
    CHECK(w.timed_out == std::vector<int>{2});
    REQUIRE(w.send.size() == 1);
    CHECK(w.send[0].pid == 4);
    CHECK(o.timeouts() == 1);
    o.on_done(3, g, 101);
    o.on_done(4, g, 101);
    w = o.due(102);
    REQUIRE(w.send.size() == 1);
    CHECK(w.send[0].pid == 5);
    o.on_done(5, g, 103);
    // pid 2 is not sent the same command twice...
    CHECK(o.due(500).send.empty());
    CHECK_FALSE(o.process(2)->current());
    // ...but answers when it runs again.
    auto d = o.on_done(2, g, 600);
    CHECK(d.accepted);
    CHECK(d.current);
    CHECK(o.in_flight() == 0);
}

TEST_CASE("a late process whose target moves on gets the new command") {
    RebindOrchestrator o(0, 4, 100);
    o.add_process(1, "/a", kAll, 0, kAll, false);
    auto g1 = o.cgroup_changed("/a", kLow);
    CHECK(o.due(0).send.size() == 1);
    CHECK(o.due(100).timed_out.size() == 1);
    auto g2 = o.cgroup_changed("/a", kHigh);
    auto w = o.due(150);
    REQUIRE(w.send.size() == 1);
    CHECK(w.send[0] == RebindCommand{1, g2, kHigh});
    // The old answer arrives first: accepted, not yet current.
    auto d = o.on_done(1, g1, 160);
    CHECK(d.accepted);
    CHECK_FALSE(d.current);
    CHECK(o.in_flight() == 1);
    d = o.on_done(1, g2, 170);
    CHECK(d.current);
    CHECK(o.in_flight() == 0);
}

TEST_CASE("a fork child: current when it inherited the cgroup's generation, else rebound") {
    RebindOrchestrator o(0, 4, 100);
    o.add_process(1, "/a", kAll, 0, kAll, false);
    auto g = o.cgroup_changed("/a", kLow);
    o.due(0);
    // A child forked before the parent applied g inherits the old state.
    o.add_process(2, "/a", kLow, 0, kAll, true);
    // A child forked after it inherits g.
    o.add_process(3, "/a", kLow, g, kLow, true);
    CHECK(o.process(3)->current());
    auto w = o.due(1);
    REQUIRE(w.send.size() == 1);
    CHECK(w.send[0] == RebindCommand{2, g, kLow});
}

TEST_CASE("a move takes a new generation even between cgroups of equal mems") {
    RebindOrchestrator o(0, 4, 100);
    o.add_process(1, "/a", kAll, 0, kAll, false);
    o.move_process(1, "/b", kAll);
    CHECK(o.cgroup("/a") == nullptr);  // empty cgroups are forgotten
    REQUIRE(o.cgroup("/b") != nullptr);
    auto w = o.due(0);
    REQUIRE(w.send.size() == 1);
    CHECK(w.send[0].mems == kAll);
    // A change of the old cgroup no longer concerns it.
    CHECK(o.cgroup_changed("/a", kLow) == 0);
}

TEST_CASE("a process that leaves frees its slot") {
    RebindOrchestrator o(0, 1, 100);
    o.add_process(1, "/a", kAll, 0, kAll, false);
    o.add_process(2, "/a", kAll, 0, kAll, false);
    o.cgroup_changed("/a", kLow);
    CHECK(o.due(0).send.size() == 1);
    o.remove_process(1);
    auto w = o.due(1);
    REQUIRE(w.send.size() == 1);
    CHECK(w.send[0].pid == 2);
    CHECK(o.next_deadline() == 101);
}
