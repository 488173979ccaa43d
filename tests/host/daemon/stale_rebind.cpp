// SPDX-License-Identifier: MIT
// A stale Rebind queued behind a newer one (the process was stopped while
// its mems changed twice) is never issued: the agent answers only the
// newest, without errors. Before, it re-bound to the stale mems first and
// reported EINVAL (mpol_set_nodemask(): nodes outside Mems_allowed). And a
// Rebind older than one already applied on the connection is a quiet no-op.
//
// A real program under libnumakeep.so that serves as its own fake daemon
// (tests/common/harness.hpp): both Rebinds go out in one send(), so
// they are queued before the agent reads the first.
#include <numaif.h>

#include <cstring>

#include "harness.hpp"

using namespace numakeep;
using namespace numakeep::testing;

namespace {

std::size_t put_rebind(unsigned char* out, std::uint32_t seq, std::uint64_t gen,
                       const Nodemask& mems) {
    proto::Rebind r;
    r.generation = gen;
    r.mems = mems;
    return proto::encode(proto::MsgType::Rebind, seq, r, out);
}

}  // namespace

int main(int argc, char** argv) {
    Harness h(argc, argv);
    const Nodemask mems = mems_allowed();
    unsigned long node0 = 1;
    char* bound = map_pages(2);
    h.check(mbind(bound, 2 * 4096, MPOL_BIND, &node0, 2, 0) == 0, "mbind bind 0");
    if (!h.preloaded()) return h.finish();

    std::vector<PolicyEntry> ranges, threads;
    if (!h.records(ranges, threads)) return h.finish();
    FakeDaemon& d = h.daemon();

    // Generation 10 says mems {5}, a node this host does not have: issuing
    // it fails. Generation 11, right behind it, says the real mems.
    unsigned char buf[2 * (sizeof(proto::FrameHeader) + sizeof(proto::Rebind))];
    std::size_t n = put_rebind(buf, 100, 10, Nodemask{5});
    n += put_rebind(buf + n, 101, 11, mems);
    h.check(d.send_raw(buf, n), "two Rebinds sent in one write (generations 10 and 11)");
    proto::FrameHeader fh;
    unsigned char payload[proto::kMaxPayload];
    proto::RebindDone done;
    bool got = d.recv_frame(fh, payload, 10000) &&
               fh.type == static_cast<std::uint16_t>(proto::MsgType::RebindDone) &&
               proto::decode(fh, payload, done);
    h.check(got, "a RebindDone came back");
    h.check(done.generation == 11, "it answers generation 11, the newest (got %llu)",
            static_cast<unsigned long long>(done.generation));
    h.check(done.errors == 0 && done.first_errno == 0, "without errors (%u, first errno %d)",
            done.errors, done.first_errno);
    h.check(done.ranges_rebound == 1, "the range was re-bound once (%u)", done.ranges_rebound);
    h.check(!FakeDaemon::wait(d.conn_fd(), 300), "no answer for the stale generation 10");

    // An older generation arriving after 11 changes nothing.
    proto::RebindDone late;
    h.check(d.rebind(9, Nodemask{5}, late), "Rebind of generation 9 answered");
    h.check(late.generation == 9 && late.errors == 0 && late.ranges_rebound == 0 &&
                late.ranges_dropped == 0,
            "a quiet no-op: %u re-bound, %u dropped, %u errors", late.ranges_rebound,
            late.ranges_dropped, late.errors);
    int mode = -1;
    unsigned long nodes[16] = {};
    bool read = get_mempolicy(&mode, nodes, 1024, bound, MPOL_F_ADDR) == 0;
    h.check(read && mode == MPOL_BIND && nodes[0] == 1,
            "the kernel still holds bind 0 (mode %d, nodes %#lx)", mode, nodes[0]);
    return h.finish();
}
