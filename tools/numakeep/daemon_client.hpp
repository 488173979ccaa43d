// SPDX-License-Identifier: MIT
// The CLI's side of the control queries on numakeepd's socket
// (include/numakeep/protocol.hpp): QueryList -> ProcEntry* ListEnd;
// QueryShow{pid} -> ProcEntry ShowRange* ShowThread* ShowEnd, or Error;
// QueryStatus -> StatusReply. Every failure is a CliError that says what
// happened and what to do.
#pragma once

#include <string>
#include <vector>

#include "numakeep/protocol.hpp"

namespace numakeep::cli {

// NUMAKEEP_SOCKET, else the built-in default (/run/numakeep/numakeepd.sock).
std::string daemon_socket_path();

struct ShowAnswer {
    proto::ProcEntry process;
    std::vector<proto::PolicyEntry> ranges;
    std::vector<proto::PolicyEntry> threads;
    bool truncated = false;  // the agent stopped early (RecordsEnd.truncated)
};

// The answer to one SetPolicy: the outcomes, or the daemon's refusal of the
// whole request (no such cgroup, nobody under numakeep in it).
struct SetAnswer {
    std::vector<proto::SetOutcome> outcomes;
    int error = 0;  // an errno when the daemon refused the request
    std::string message;
};

class DaemonClient {
  public:
    // Connects; throws CliError(DaemonUnreachable) with how to start the
    // daemon when nobody listens, CliError(PermissionDenied) when the
    // socket refuses us.
    explicit DaemonClient(std::string socket_path);
    ~DaemonClient();
    DaemonClient(const DaemonClient&) = delete;
    DaemonClient& operator=(const DaemonClient&) = delete;

    std::vector<proto::ProcEntry> list();
    ShowAnswer show(int pid);
    proto::StatusReply status();
    // Sends every request, then reads their answers (in the order sent);
    // waits up to `timeout_s` for each.
    std::vector<SetAnswer> set(const std::vector<proto::SetPolicy>& requests, int timeout_s);

    const std::string& socket_path() const { return path_; }

  private:
    struct Frame {
        proto::FrameHeader header;
        unsigned char payload[proto::kMaxPayload];
    };
    template <typename T>
    void send(proto::MsgType type, const T& body);
    // Reads one validated frame; Error frames are thrown as CliError, with
    // `pid` (when > 0) named in the message.
    void receive(Frame& frame, int pid = 0);
    template <typename T>
    T decode_as(const Frame& frame);
    [[noreturn]] void protocol_error(const std::string& what) const;

    // Copies `len` bytes out of the receive buffer, refilling it with as
    // much as the socket holds: a list of 100 processes then costs a few
    // reads, not two per frame.
    void read_exact(void* out, std::size_t len);

    std::string path_;
    int fd_ = -1;
    std::uint32_t seq_ = 0;
    std::vector<unsigned char> in_ = std::vector<unsigned char>(64 * 1024);
    std::size_t in_begin_ = 0, in_end_ = 0;
};

}  // namespace numakeep::cli
