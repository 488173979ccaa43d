// SPDX-License-Identifier: MIT
// Fuzz target: the runtime's side of the wire format, daemon frames in.
// The input is the byte stream the daemon sends an agent; the agent's own
// reader (preload/daemon_frames.hpp, what agent.cpp's serve loop runs)
// splits it into frames and classifies them, and each Rebind goes through
// the pure part of what the agent then does (preload/rebind_executor.cpp):
// the range store plans its mbind calls under the frame's mems and every
// thread record's request is re-planned, under each semantics.
//
// Beyond "does not crash", each input checks what the reader promises: it
// never reads past the stream, never reads a payload whose header it did
// not validate, stops at the first malformed frame with a reason, and every
// planned rebind names only nodes of the frame's mems (set modes, no
// flags of their own, non-empty mems) and only ranges the store holds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "daemon_frames.hpp"
#include "numakeep/exec_handoff.hpp"
#include "numakeep/range_store.hpp"
#include "numakeep/rebind.hpp"
#include "recorded.hpp"

using namespace numakeep;
using namespace numakeep::preload;
using numakeep::test::recorded;

namespace {

void require(bool ok) {
    if (!ok) std::abort();  // libFuzzer reports the input; the replay test fails
}

// The runtime's records: ranges and thread requests of every mode, made
// under various mems, some with flags of their own.
struct Records {
    RangeStore store;
    Recorded threads[6];
    std::uint64_t lowest = 0, highest = 0;

    Records() {
        const Nodemask m0{0, 1, 2, 3};
        const Recorded recs[] = {
            recorded(Mode::Bind, Nodemask{1}, m0),
            recorded(Mode::Interleave, Nodemask{0, 1, 2, 3}, m0),
            recorded(Mode::Preferred, Nodemask{2}, m0, 2),
            recorded(Mode::PreferredMany, Nodemask{1, 3}, Nodemask{1, 3}),
            recorded(Mode::Bind, Nodemask{0, 5}, m0, -1, kFlagStaticNodes),
            recorded(Mode::Interleave, Nodemask{0, 1}, m0, -1, kFlagRelativeNodes),
            recorded(Mode::WeightedInterleave, Nodemask{0, 2}, Nodemask{0, 2, 700}),
            recorded(Mode::Bind, Nodemask::range(0, 1023), Nodemask::range(0, 1023)),
        };
        std::uint64_t at = 0x7f0000000000;
        lowest = at;
        for (const Recorded& r : recs) {
            require(store.set(at, at + 4 * 4096, r));
            at += 4 * 4096;  // adjacent: the planner coalesces across equal results
        }
        highest = at;
        for (std::size_t i = 0; i < 6; ++i) threads[i] = recs[i];
    }
};

void check_plan(const Request& req, const Nodemask& m1, const IssuePlan& out) {
    if (!out.needed) return;
    require(out.mode == req.mode &&
            (out.flags & ~static_cast<std::uint16_t>(kFlagRelativeNodes)) == req.flags);
    require(out.home_node >= -1 && out.home_node < static_cast<int>(kMaxNodes));
    if (is_set_mode(req.mode) && !out.assisted() && !m1.empty())
        require(!out.nodes.empty() && out.nodes.subset_of(m1));
}

// What the agent does with a Rebind, less the system calls.
void plan(const Records& recs, const proto::Rebind& msg) {
    for (Semantics s :
         {Semantics::Intent, Semantics::Static, Semantics::Relative, Semantics::Kernel})
        for (bool assist : {false, true}) {
            const IssueSettings set{s, assist};
            std::uint64_t last_end = recs.lowest;
            recs.store.plan_rebind(
                msg.mems, set, [&](std::uint64_t start, std::uint64_t end, const IssuePlan& p) {
                    require(start >= last_end && start < end && end <= recs.highest);
                    last_end = end;
                    require(p.needed && p.mode != Mode::Default && p.mode != Mode::Local);
                });
            for (const Recorded& t : recs.threads)
                check_plan(t.request, msg.mems, plan_issue(t, msg.mems, set));
        }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const Records recs;
    std::size_t at = 0;
    bool payload_allowed = false;  // only right after a valid header
    auto read_header = [&](void* buf, std::size_t len) {
        if (size - at < len) return false;
        std::memcpy(buf, data + at, len);
        at += len;
        payload_allowed = true;
        return true;
    };
    auto read_payload = [&](void* buf, std::size_t len) {
        require(payload_allowed && len <= proto::kMaxPayload);
        payload_allowed = false;
        if (size - at < len) return false;
        std::memcpy(buf, data + at, len);
        at += len;
        return true;
    };
    alignas(8) unsigned char payload[proto::kMaxPayload];
    for (int frames = 0; frames < 256; ++frames) {
        std::size_t before = at;
        DaemonFrame f = read_daemon_frame(read_header, read_payload, payload);
        payload_allowed = false;
        require(at <= size);
        switch (f.kind) {
            case DaemonFrameKind::Closed:
                require(f.why == nullptr);
                return 0;
            case DaemonFrameKind::Drop:
                require(f.why != nullptr && *f.why != '\0');
                return 0;  // the agent hangs up
            case DaemonFrameKind::Rebind:
                require(at - before == sizeof(proto::FrameHeader) + sizeof(proto::Rebind));
                plan(recs, f.rebind);
                break;
            case DaemonFrameKind::DumpRecords:
                require(at - before == sizeof(proto::FrameHeader) + sizeof(proto::DumpRecords));
                break;
            case DaemonFrameKind::Welcome:
                require(at - before == sizeof(proto::FrameHeader) + sizeof(proto::Welcome));
                break;
            case DaemonFrameKind::ExecHandoffDeliver:
                require(at - before == sizeof(proto::FrameHeader) + sizeof(proto::ExecHandoff));
                // The agent's test: never crashes, whatever the bytes.
                (void)exec_handoff_matches(f.exec, static_cast<int>(f.exec.mode));
                (void)recorded_of(f.exec);
                break;
            case DaemonFrameKind::SetRequest:
                require(at - before == sizeof(proto::FrameHeader) + sizeof(proto::SetRequest));
                break;
            case DaemonFrameKind::Ignore:
                break;
        }
        require(f.why == nullptr);
    }
    return 0;
}
