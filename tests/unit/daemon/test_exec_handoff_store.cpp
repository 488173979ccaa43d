// SPDX-License-Identifier: MIT
// The exec handoff: the daemon's pending table (daemon/exec_handoff.hpp)
// and the pure rules of include/numakeep/exec_handoff.hpp.
#include <doctest/doctest.h>

#include "exec_handoff.hpp"
#include "numakeep/exec_handoff.hpp"

using namespace numakeep;
using namespace numakeep::daemon;

namespace {

const Nodemask kAll = Nodemask::range(0, 3);
const Nodemask kLow = Nodemask::range(0, 1);

constexpr int kInterleave = static_cast<int>(Mode::Interleave);

// interleave 0-1 requested under 0-3, left as interleave 0-1 at the exec.
proto::ExecHandoff good() {
    Recorded r{Request{Mode::Interleave, 0, kLow, -1}, kAll};
    return make_exec_handoff(r, kInterleave, kLow, kAll, 7);
}

const auto never_closed = [](HandoffConn) { return false; };
const auto always_closed = [](HandoffConn) { return true; };
const auto all_alive = [](pid_t, std::uint64_t) { return true; };

}  // namespace

TEST_CASE("a handoff carries the request and M0 back out unchanged") {
    Recorded r{Request{Mode::Bind, kFlagNumaBalancing, kLow, 1}, kAll};
    proto::ExecHandoff h =
        make_exec_handoff(r, static_cast<int>(Mode::Bind) | kFlagNumaBalancing, kLow, kLow, 3);
    CHECK(exec_handoff_problem(h) == nullptr);
    CHECK(recorded_of(h) == r);
    CHECK(h.generation == 3);
    CHECK(exec_handoff_matches(h, static_cast<int>(Mode::Bind) | kFlagNumaBalancing));
    CHECK_FALSE(exec_handoff_matches(h, static_cast<int>(Mode::Bind)));
    CHECK_FALSE(exec_handoff_matches(h, kInterleave | kFlagNumaBalancing));
}

TEST_CASE("malformed or hostile handoffs are refused") {
    proto::ExecHandoff h = good();
    CHECK(exec_handoff_problem(h) == nullptr);
    auto bad = [&](auto change) {
        proto::ExecHandoff b = good();
        change(b);
        return exec_handoff_problem(b) != nullptr && !exec_handoff_matches(b, b.issued_mode);
    };
    CHECK(bad([](proto::ExecHandoff& b) { b.mode = b.issued_mode = 0; }));    // default
    CHECK(bad([](proto::ExecHandoff& b) { b.mode = b.issued_mode = 4; }));    // local
    CHECK(bad([](proto::ExecHandoff& b) { b.mode = b.issued_mode = 99; }));   // unknown
    CHECK(bad([](proto::ExecHandoff& b) { b.flags = b.issued_flags = 1; }));  // unknown flag
    CHECK(bad([](proto::ExecHandoff& b) { b.flags = b.issued_flags = kFlagStaticNodes; }));
    CHECK(bad([](proto::ExecHandoff& b) { b.issued_mode = 2; }));  // bind left, interleave asked
    CHECK(bad([](proto::ExecHandoff& b) { b.home_node = -2; }));
    CHECK(bad([](proto::ExecHandoff& b) { b.home_node = 1024; }));
    CHECK(bad([](proto::ExecHandoff& b) { b.handoff_flags = 2; }));  // unknown flag
    CHECK(bad([](proto::ExecHandoff& b) { b.requested.clear(); }));
    CHECK(bad([](proto::ExecHandoff& b) { b.issued_nodes.clear(); }));
    CHECK(bad([](proto::ExecHandoff& b) { b.mems_at_request.clear(); }));
    CHECK(bad([](proto::ExecHandoff& b) { b.mems_at_exec.clear(); }));
    CHECK(bad([](proto::ExecHandoff& b) { b.requested = Nodemask{9}; }));  // none in M0
    CHECK(bad([](proto::ExecHandoff& b) {
        b.mode = b.issued_mode = static_cast<std::uint16_t>(Mode::Preferred);  // two nodes
    }));
}

TEST_CASE("a handoff is handed out once its connection closed, to the same process only") {
    ExecHandoffStore t;
    CHECK(t.store(100, 1000, 55, 9, good(), 0, never_closed) == ExecHandoffStore::Stored::Added);
    // The old image (connection open) reconnecting gets nothing, keeps it.
    CHECK_FALSE(t.take(100, 55, never_closed));
    CHECK(t.size() == 1);
    // Closed (exec happened): the new image takes it, once.
    t.closed(9);
    CHECK(t.find(100)->exec_seen);
    auto got = t.take(100, 55, never_closed);
    REQUIRE(got);
    CHECK(recorded_of(*got) == recorded_of(good()));
    CHECK_FALSE(t.take(100, 55, always_closed));
    CHECK(t.size() == 0);
    CHECK(t.count_for(1000) == 0);
}

TEST_CASE("a close not yet read is seen at the Hello") {
    ExecHandoffStore t;
    t.store(100, 1000, 55, 9, good(), 0, never_closed);
    HandoffConn asked = 0;
    auto got = t.take(100, 55, [&](HandoffConn c) {
        asked = c;
        return true;
    });
    CHECK(got);
    CHECK(asked == 9);
    t.closed(9);  // the server's close arrives afterwards: nothing left to touch
    CHECK(t.size() == 0);
}

TEST_CASE("a cancelled handoff (failed exec) leaves nothing behind") {
    ExecHandoffStore t;
    t.store(100, 1000, 55, 9, good(), 0, never_closed);
    t.cancel(9);
    t.closed(9);
    CHECK(t.size() == 0);
    CHECK(t.count_for(1000) == 0);
    CHECK_FALSE(t.take(100, 55, always_closed));
}

TEST_CASE("a reused pid (another start time) never gets the handoff") {
    ExecHandoffStore t;
    t.store(100, 1000, 55, 9, good(), 0, never_closed);
    t.closed(9);
    CHECK_FALSE(t.take(100, 56, always_closed));
    CHECK(t.size() == 0);  // and the stale entry is gone
}

TEST_CASE("one handoff per pid: a second exec attempt replaces the first") {
    ExecHandoffStore t(1);
    t.store(100, 1000, 55, 9, good(), 0, never_closed);
    proto::ExecHandoff second = good();
    second.generation = 8;
    CHECK(t.store(100, 1000, 55, 10, second, 1, never_closed) ==
          ExecHandoffStore::Stored::Replaced);
    CHECK(t.size() == 1);
    CHECK(t.count_for(1000) == 1);
    t.closed(9);  // the first connection going changes nothing now
    CHECK_FALSE(t.find(100)->exec_seen);
    t.closed(10);
    auto got = t.take(100, 55, never_closed);
    REQUIRE(got);
    CHECK(got->generation == 8);
}

TEST_CASE("entries per uid are bounded; other uids are not affected") {
    ExecHandoffStore t(2);
    CHECK(t.store(1, 1000, 5, 1, good(), 0, never_closed) == ExecHandoffStore::Stored::Added);
    CHECK(t.store(2, 1000, 5, 2, good(), 0, never_closed) == ExecHandoffStore::Stored::Added);
    CHECK(t.store(3, 1000, 5, 3, good(), 0, never_closed) == ExecHandoffStore::Stored::OverLimit);
    CHECK(t.store(4, 1001, 5, 4, good(), 0, never_closed) == ExecHandoffStore::Stored::Added);
    CHECK(t.count_for(1000) == 2);
    t.cancel(1);
    CHECK(t.store(3, 1000, 5, 3, good(), 0, never_closed) == ExecHandoffStore::Stored::Added);
}

TEST_CASE("handoffs expire after their time to live, or when their process goes") {
    ExecHandoffStore t(8, 5000);
    t.store(1, 1000, 5, 1, good(), 0, never_closed);
    t.store(2, 1000, 6, 2, good(), 4000, never_closed);
    CHECK(t.expire(4999, all_alive) == 0);
    CHECK(t.expire(5000, all_alive) == 1);
    CHECK_FALSE(t.find(1));
    CHECK(t.find(2));
    CHECK(t.expire(5001, [](pid_t pid, std::uint64_t st) { return !(pid == 2 && st == 6); }) == 1);
    CHECK(t.size() == 0);
    CHECK(t.count_for(1000) == 0);
    t.closed(1);  // connections of expired entries close later: harmless
    t.cancel(2);
}

TEST_CASE("the new frames have one payload size each") {
    using proto::MsgType;
    auto size_of = [](MsgType t) { return proto::payload_size_of(static_cast<std::uint16_t>(t)); };
    CHECK(size_of(MsgType::ExecHandoff).known);
    CHECK(size_of(MsgType::ExecHandoff).size == sizeof(proto::ExecHandoff));
    CHECK(size_of(MsgType::ExecHandoffDeliver).size == sizeof(proto::ExecHandoff));
    CHECK(size_of(MsgType::ExecHandoffCancel).known);
    CHECK(size_of(MsgType::ExecHandoffCancel).size == 0);
    CHECK(size_of(MsgType::ExecHandoffStored).size == 0);
    proto::FrameHeader h;
    h.type = static_cast<std::uint16_t>(MsgType::ExecHandoff);
    h.payload_size = sizeof(proto::ExecHandoff);
    CHECK(proto::check_header(h) == proto::HeaderCheck::Ok);
    h.payload_size -= 1;
    CHECK(proto::check_header(h) == proto::HeaderCheck::BadSize);
}

namespace {
// What an image started by good()'s exec hands over when it execs again
// before taking good(): its start-up record (interleave 0-1, learned under
// mems 2-3 after the kernel's remap), flagged as such.
proto::ExecHandoff next_from_startup(bool flagged) {
    Recorded learned{Request{Mode::Interleave, 0, Nodemask{2, 3}, -1}, Nodemask{2, 3}};
    proto::ExecHandoff h =
        make_exec_handoff(learned, kInterleave, Nodemask{2, 3}, Nodemask{2, 3}, 9);
    if (flagged) h.handoff_flags = proto::kExecHandoffFromStartup;
    return h;
}
}  // namespace

TEST_CASE("an exec before the new image took its handoff carries the first request on") {
    ExecHandoffStore t;
    t.store(100, 1000, 55, 9, good(), 0, never_closed);
    t.closed(9);  // the first exec happened; its image has not said Hello
    CHECK(t.store(100, 1000, 55, 10, next_from_startup(true), 1, never_closed) ==
          ExecHandoffStore::Stored::Chained);
    t.closed(10);
    auto got = t.take(100, 55, never_closed);
    REQUIRE(got);
    CHECK(recorded_of(*got) == recorded_of(good()));  // R and M0 of the first
    CHECK(got->issued_nodes == Nodemask({2, 3}));     // what the latest exec left
    CHECK(got->mems_at_exec == Nodemask({2, 3}));
    CHECK(got->generation == 9);
    CHECK(got->handoff_flags == 0);
    CHECK(exec_handoff_problem(*got) == nullptr);
}

TEST_CASE("the chain holds when the first exec's close is not read yet") {
    ExecHandoffStore t;
    t.store(100, 1000, 55, 9, good(), 0, never_closed);
    // The new image stores its own handoff before the server read the end
    // of the first connection: that connection is at end-of-file already.
    CHECK(t.store(100, 1000, 55, 10, next_from_startup(true), 1, always_closed) ==
          ExecHandoffStore::Stored::Chained);
    t.closed(10);
    CHECK(recorded_of(*t.take(100, 55, never_closed)) == recorded_of(good()));
}

TEST_CASE("the chain holds when the image execs before it read the handoff sent to it") {
    ExecHandoffStore t;
    t.store(100, 1000, 55, 9, good(), 0, never_closed);
    t.closed(9);
    REQUIRE(t.take(100, 55, never_closed));  // sent at its Hello, not read yet
    CHECK(t.size() == 0);
    CHECK_FALSE(t.empty());  // remembered for a chain
    CHECK(t.store(100, 1000, 55, 10, next_from_startup(true), 1, never_closed) ==
          ExecHandoffStore::Stored::Chained);
    t.closed(10);
    CHECK(recorded_of(*t.take(100, 55, never_closed)) == recorded_of(good()));
    SUBCASE("not for another process with the pid") {
        ExecHandoffStore u;
        u.store(100, 1000, 55, 9, good(), 0, never_closed);
        u.closed(9);
        u.take(100, 55, never_closed);
        u.store(100, 1000, 56, 10, next_from_startup(true), 1, never_closed);
        CHECK(u.find(100)->body.requested == Nodemask({2, 3}));
    }
    SUBCASE("forgotten when it expires") {
        ExecHandoffStore u;
        u.store(100, 1000, 55, 9, good(), 0, never_closed);
        u.closed(9);
        u.take(100, 55, never_closed);
        u.expire(ExecHandoffStore::kDefaultTtlMs, all_alive);
        CHECK(u.empty());
        u.store(100, 1000, 55, 10, next_from_startup(true), 1, never_closed);
        CHECK(u.find(100)->body.requested == Nodemask({2, 3}));
    }
}

TEST_CASE("no chain without the flag, before the first exec, or across modes") {
    SUBCASE("not flagged: the image asked for its policy itself") {
        ExecHandoffStore t;
        t.store(100, 1000, 55, 9, good(), 0, never_closed);
        t.closed(9);
        t.store(100, 1000, 55, 10, next_from_startup(false), 1, never_closed);
        t.closed(10);
        CHECK(t.take(100, 55, never_closed)->requested == Nodemask({2, 3}));
    }
    SUBCASE("the first exec had not happened (its connection still open)") {
        ExecHandoffStore t;
        t.store(100, 1000, 55, 9, good(), 0, never_closed);
        t.store(100, 1000, 55, 10, next_from_startup(true), 1, never_closed);
        t.closed(10);
        CHECK(t.take(100, 55, never_closed)->requested == Nodemask({2, 3}));
    }
    SUBCASE("the start-up record is not of the mode the first exec left") {
        proto::ExecHandoff next = next_from_startup(true);
        next.mode = next.issued_mode = static_cast<std::uint16_t>(Mode::Bind);
        CHECK_FALSE(chain_exec_handoff(good(), next));
    }
}
