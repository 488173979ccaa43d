// SPDX-License-Identifier: MIT
#include "daemon_client.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "cli_error.hpp"
#include "numakeep_config.h"

namespace numakeep::cli {
namespace {

// Long enough for the daemon to relay a slow agent's records (its own
// timeout answers ETIMEDOUT first), short enough that a wedged daemon does
// not hang a shell.
constexpr int kAnswerTimeoutS = 15;

const char* kStartHint =
    "start it with `systemctl start numakeepd.socket` (or run `numakeepd` as root); "
    "NUMAKEEP_SOCKET names another socket";

}  // namespace

std::string daemon_socket_path() {
    const char* env = std::getenv("NUMAKEEP_SOCKET");
    return env && *env ? env : NUMAKEEP_SOCKET_PATH;
}

DaemonClient::DaemonClient(std::string socket_path) : path_(std::move(socket_path)) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path_.size() >= sizeof addr.sun_path)
        throw CliError(ExitCode::Usage, "socket path too long: " + path_);
    std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0)
        throw CliError(ExitCode::DaemonUnreachable,
                       std::string("cannot create a socket: ") + std::strerror(errno));
    timeval tv{kAnswerTimeoutS, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return;
    int err = errno;
    close(fd_);
    fd_ = -1;
    if (err == EACCES || err == EPERM)
        throw CliError(ExitCode::PermissionDenied,
                       "permission denied connecting to numakeepd at " + path_,
                       "run as root, or ask the administrator for access to the socket");
    if (err == ENOENT || err == ECONNREFUSED || err == ENOTDIR)
        throw CliError(ExitCode::DaemonUnreachable,
                       "numakeepd is not running (nothing listens on " + path_ + ": " +
                           std::strerror(err) + ")",
                       kStartHint);
    throw CliError(ExitCode::DaemonUnreachable,
                   "cannot connect to numakeepd at " + path_ + ": " + std::strerror(err),
                   kStartHint);
}

DaemonClient::~DaemonClient() {
    if (fd_ >= 0) close(fd_);
}

void DaemonClient::protocol_error(const std::string& what) const {
    throw CliError(ExitCode::DaemonUnreachable, "numakeepd at " + path_ + ": " + what,
                   "check that numakeep and numakeepd are the same version (`numakeep "
                   "--version`, `numakeep status`)");
}

template <typename T>
void DaemonClient::send(proto::MsgType type, const T& body) {
    unsigned char buf[proto::kMaxFrame];
    std::size_t len = proto::encode(type, ++seq_, body, buf);
    std::size_t done = 0;
    while (done < len) {
        // MSG_NOSIGNAL: a daemon that went away is an error, not a SIGPIPE.
        ssize_t n = ::send(fd_, buf + done, len - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            throw CliError(ExitCode::DaemonUnreachable,
                           "cannot send to numakeepd at " + path_ + ": " + std::strerror(errno),
                           kStartHint);
        done += static_cast<std::size_t>(n);
    }
}

void DaemonClient::read_exact(void* out, std::size_t len) {
    auto* dst = static_cast<unsigned char*>(out);
    while (len > 0) {
        if (in_begin_ == in_end_) {
            ssize_t n = ::recv(fd_, in_.data(), in_.size(), 0);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                throw CliError(ExitCode::DaemonUnreachable,
                               "numakeepd at " + path_ + " did not answer within " +
                                   std::to_string(kAnswerTimeoutS) + " s",
                               "see its log (`journalctl -u numakeepd`)");
            if (n < 0)
                throw CliError(
                    ExitCode::DaemonUnreachable,
                    "cannot read from numakeepd at " + path_ + ": " + std::strerror(errno));
            if (n == 0) protocol_error("closed the connection before answering");
            in_begin_ = 0;
            in_end_ = static_cast<std::size_t>(n);
        }
        std::size_t take = std::min(len, in_end_ - in_begin_);
        std::memcpy(dst, in_.data() + in_begin_, take);
        in_begin_ += take;
        dst += take;
        len -= take;
    }
}

void DaemonClient::receive(Frame& frame, int pid) {
    read_exact(&frame.header, sizeof frame.header);
    proto::HeaderCheck check = proto::check_header(frame.header);
    if (check != proto::HeaderCheck::Ok)
        protocol_error(std::string("malformed answer (") + proto::to_string(check) + ")");
    read_exact(frame.payload, frame.header.payload_size);
    if (frame.header.type != static_cast<std::uint16_t>(proto::MsgType::Error)) return;

    auto err = decode_as<proto::ErrorMsg>(frame);
    err.message[sizeof err.message - 1] = '\0';
    std::string pid_text = "process " + std::to_string(pid);
    std::string detail = err.message[0] ? std::string(" (") + err.message + ")" : "";
    switch (err.code) {
        case ENOENT:
            throw CliError(ExitCode::NoSuchProcess, "no such process: " + std::to_string(pid),
                           "list the processes numakeep knows with `numakeep ps`");
        case ESRCH:
            // The daemon only knows registered processes; say which case it is.
            if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH)
                throw CliError(ExitCode::NoSuchProcess, "no such process: " + std::to_string(pid),
                               "list the processes numakeep knows with `numakeep ps`");
            throw CliError(ExitCode::NoSuchProcess, pid_text + " is not under numakeep",
                           "start it with `numakeep run [POLICY] -- COMMAND`, or with "
                           "LD_PRELOAD=" NUMAKEEP_PRELOAD_PATH);
        case EPERM:
        case EACCES:
            throw CliError(ExitCode::PermissionDenied,
                           "permission denied: " + pid_text + " belongs to another user",
                           "run as root or as the process's owner");
        case ETIMEDOUT:
            throw CliError(ExitCode::ProcessSilent,
                           pid_text + " did not answer numakeepd in time" + detail,
                           "it may be stopped (SIGSTOP) or very busy; try again");
        default:
            protocol_error(std::string("refused the query: ") + std::strerror(err.code) + detail);
    }
}

template <typename T>
T DaemonClient::decode_as(const Frame& frame) {
    T out{};
    if (!proto::decode(frame.header, frame.payload, out))
        protocol_error("answer of the wrong size");
    return out;
}

std::vector<proto::ProcEntry> DaemonClient::list() {
    send(proto::MsgType::QueryList, proto::Empty{});
    std::vector<proto::ProcEntry> out;
    Frame frame;
    while (true) {
        receive(frame);
        auto type = static_cast<proto::MsgType>(frame.header.type);
        if (type == proto::MsgType::ListEnd) return out;
        if (type != proto::MsgType::ProcEntry)
            protocol_error("unexpected message " + std::to_string(frame.header.type) +
                           " in a process list");
        out.push_back(decode_as<proto::ProcEntry>(frame));
    }
}

ShowAnswer DaemonClient::show(int pid) {
    proto::QueryShow q;
    q.pid = pid;
    send(proto::MsgType::QueryShow, q);
    ShowAnswer out;
    Frame frame;
    receive(frame, pid);
    if (frame.header.type != static_cast<std::uint16_t>(proto::MsgType::ProcEntry))
        protocol_error("a show answer must start with the process");
    out.process = decode_as<proto::ProcEntry>(frame);
    while (true) {
        receive(frame, pid);
        switch (static_cast<proto::MsgType>(frame.header.type)) {
            case proto::MsgType::ShowRange:
                out.ranges.push_back(decode_as<proto::PolicyEntry>(frame));
                break;
            case proto::MsgType::ShowThread:
                out.threads.push_back(decode_as<proto::PolicyEntry>(frame));
                break;
            case proto::MsgType::ShowEnd:
                out.truncated = decode_as<proto::RecordsEnd>(frame).truncated != 0;
                return out;
            default:
                protocol_error("unexpected message " + std::to_string(frame.header.type) +
                               " in a show answer");
        }
    }
}

proto::StatusReply DaemonClient::status() {
    send(proto::MsgType::QueryStatus, proto::Empty{});
    Frame frame;
    receive(frame);
    if (frame.header.type != static_cast<std::uint16_t>(proto::MsgType::StatusReply))
        protocol_error("unexpected message " + std::to_string(frame.header.type) +
                       " instead of a status reply");
    return decode_as<proto::StatusReply>(frame);
}

std::vector<SetAnswer> DaemonClient::set(const std::vector<proto::SetPolicy>& requests,
                                         int timeout_s) {
    timeval tv{timeout_s, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const std::uint32_t first = seq_ + 1;
    for (const auto& r : requests) send(proto::MsgType::SetPolicy, r);
    std::vector<SetAnswer> out(requests.size());
    std::size_t open = requests.size();
    Frame frame;
    while (open > 0) {
        read_exact(&frame.header, sizeof frame.header);
        proto::HeaderCheck check = proto::check_header(frame.header);
        if (check != proto::HeaderCheck::Ok)
            protocol_error(std::string("malformed answer (") + proto::to_string(check) + ")");
        read_exact(frame.payload, frame.header.payload_size);
        const std::uint32_t index = frame.header.seq - first;
        if (index >= out.size()) protocol_error("an answer to a request not sent");
        SetAnswer& a = out[index];
        switch (static_cast<proto::MsgType>(frame.header.type)) {
            case proto::MsgType::SetOutcome:
                a.outcomes.push_back(decode_as<proto::SetOutcome>(frame));
                break;
            case proto::MsgType::SetEnd:
                --open;
                break;
            case proto::MsgType::Error: {
                auto err = decode_as<proto::ErrorMsg>(frame);
                err.message[sizeof err.message - 1] = '\0';
                a.error = err.code;
                a.message = err.message;
                --open;
                break;
            }
            default:
                protocol_error("unexpected message " + std::to_string(frame.header.type) +
                               " in a set answer");
        }
    }
    return out;
}

}  // namespace numakeep::cli
