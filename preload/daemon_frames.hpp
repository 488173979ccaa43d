// SPDX-License-Identifier: MIT
// The agent's reader of the daemon's frames: splits the byte stream into
// frames, validates each header before its payload is read
// (proto::check_header: magic, version, known type, its one payload size),
// and says what the agent is to do with the frame. Pure and
// allocation-free, over any reader: agent.cpp reads the daemon's socket with
// it, tests/fuzz/fuzz_agent_frames.cpp reads arbitrary bytes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "numakeep/protocol.hpp"

namespace numakeep::preload {

enum class DaemonFrameKind {
    Rebind,              // execute it, answer RebindDone
    DumpRecords,         // answer RangeEntry* ThreadEntry* RecordsEnd
    Welcome,             // the answer to our Hello
    ExecHandoffDeliver,  // the request our exec handed over (exec_handoff.hpp)
    SetRequest,          // `numakeep set`: carry it out, answer SetApplied
    Ignore,              // nothing to do (an Error, a repeated Welcome)
    Closed,              // end of stream, timeout, or a frame cut short
    Drop,                // a malformed or unexpected frame: hang up
};

struct DaemonFrame {
    DaemonFrameKind kind = DaemonFrameKind::Closed;
    std::uint32_t seq = 0;  // echoed in our answers
    proto::Rebind rebind;
    proto::DumpRecords dump;
    proto::Welcome welcome;
    proto::ExecHandoff exec;
    proto::SetRequest set;
    const char* why = nullptr;  // Drop: what was wrong with it
};

// What a validated frame (header checked, payload read) asks of the agent.
inline DaemonFrame classify_daemon_frame(const proto::FrameHeader& h,
                                         const unsigned char* payload) {
    DaemonFrame f;
    f.seq = h.seq;
    f.kind = DaemonFrameKind::Drop;
    f.why = "a payload of the wrong size";
    switch (static_cast<proto::MsgType>(h.type)) {
        case proto::MsgType::Rebind:
            if (proto::decode(h, payload, f.rebind)) f.kind = DaemonFrameKind::Rebind;
            break;
        case proto::MsgType::DumpRecords:
            if (proto::decode(h, payload, f.dump)) f.kind = DaemonFrameKind::DumpRecords;
            break;
        case proto::MsgType::Welcome:
            if (proto::decode(h, payload, f.welcome)) f.kind = DaemonFrameKind::Welcome;
            break;
        case proto::MsgType::ExecHandoffDeliver:
            if (proto::decode(h, payload, f.exec)) f.kind = DaemonFrameKind::ExecHandoffDeliver;
            break;
        case proto::MsgType::SetRequest:
            if (proto::decode(h, payload, f.set)) f.kind = DaemonFrameKind::SetRequest;
            break;
        case proto::MsgType::ExecHandoffStored:
        case proto::MsgType::Error:
            f.kind = DaemonFrameKind::Ignore;
            break;
        default:
            f.why = "unexpected message from the daemon";
            break;
    }
    if (f.kind != DaemonFrameKind::Drop) f.why = nullptr;
    return f;
}

// Reads one frame. read_header(void*, size_t) and read_payload(void*,
// size_t) fill the whole buffer or return false (the agent gives the
// header its idle wait and the payload the I/O timeout). `payload` holds
// proto::kMaxPayload bytes; check_header() bounds what is read into it.
template <typename ReadHeader, typename ReadPayload>
DaemonFrame read_daemon_frame(ReadHeader&& read_header, ReadPayload&& read_payload,
                              unsigned char* payload) {
    DaemonFrame f;
    proto::FrameHeader h;
    if (!read_header(&h, sizeof h)) return f;
    proto::HeaderCheck c = proto::check_header(h);
    if (c != proto::HeaderCheck::Ok) {
        f.kind = DaemonFrameKind::Drop;
        f.why = proto::to_string(c);
        return f;
    }
    // check_header() rules it out already; the buffer must never depend on one place.
    if (h.payload_size > proto::kMaxPayload) {
        f.kind = DaemonFrameKind::Drop;
        f.why = proto::to_string(proto::HeaderCheck::BadSize);
        return f;
    }
    if (h.payload_size != 0 && !read_payload(payload, h.payload_size)) return f;
    return classify_daemon_frame(h, payload);
}

}  // namespace numakeep::preload
