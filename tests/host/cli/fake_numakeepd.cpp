// SPDX-License-Identifier: MIT
// A stand-in for numakeepd's control queries, for the CLI's host tests: it
// listens on a socket and answers QueryList, QueryShow and QueryStatus with
// canned data, or with the error a scenario names, so every answer the CLI
// must handle can be produced on the host without a daemon or a NUMA machine.
//
//   fake_numakeepd SOCKET SCENARIO
//     normal        3 processes; show answers 2 threads and 3 ranges (one
//                   whose kernel nodes differ from the rule, one assisted,
//                   one the process could not read back)
//     many:N        N processes
//     error:NAME    show answers Error{NAME}: ENOENT, ESRCH, EPERM, ETIMEDOUT
//     garbage       every answer is a frame with a bad magic
//     silent        reads queries and never answers
// Serves connections one after another until killed.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "numakeep/policy.hpp"
#include "numakeep/protocol.hpp"

using namespace numakeep;
using namespace numakeep::proto;

namespace {

std::string scenario;
int process_count = 3;

bool write_all(int fd, const void* buf, std::size_t len) {
    auto* p = static_cast<const unsigned char*>(buf);
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        p += n;
        len -= static_cast<std::size_t>(n);
    }
    return true;
}

bool read_all(int fd, void* buf, std::size_t len) {
    auto* p = static_cast<unsigned char*>(buf);
    while (len) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        p += n;
        len -= static_cast<std::size_t>(n);
    }
    return true;
}

template <typename T>
bool send_frame(int fd, MsgType type, std::uint32_t seq, const T& body) {
    unsigned char buf[kMaxFrame];
    std::size_t len = encode(type, seq, body, buf);
    if (scenario == "garbage") buf[0] ^= 0xff;
    return write_all(fd, buf, len);
}

ProcEntry make_process(int pid) {
    ProcEntry p;
    p.pid = pid;
    p.uid = 0;
    p.generation_applied = 3;
    p.generation_current = pid % 2 ? 3 : 4;
    p.rebind_pending = pid % 2 ? 0 : 1;
    p.ranges = 3;
    p.threads = 2;
    p.semantics = static_cast<std::uint8_t>(Semantics::Intent);
    p.last_rebind_unix_ms = pid % 3 ? 1700000000000 : 0;
    p.last.generation = 3;
    p.last.ranges_rebound = 2;
    p.last.threads_rebound = 1;
    p.last.duration_ns = 420000;
    std::snprintf(p.comm, sizeof p.comm, "worker-%d", pid);
    std::snprintf(p.cgroup, sizeof p.cgroup, "/numakeep-test/a-rather-long-cgroup-name/leaf-%d",
                  pid);
    p.mems_now = Nodemask{0, 1};
    return p;
}

PolicyEntry make_policy(Mode mode, Nodemask requested, Nodemask rule, Nodemask kernel) {
    PolicyEntry e;
    e.mode = static_cast<std::uint16_t>(mode);
    e.kernel_mode = static_cast<std::uint16_t>(mode);
    e.kernel_ok = 1;
    e.requested = requested;
    e.mems_at_request = Nodemask::range(0, 3);
    e.rule_now = rule;
    e.kernel_now = kernel;
    return e;
}

void answer_show(int fd, std::uint32_t seq, const QueryShow& q) {
    if (scenario.rfind("error:", 0) == 0) {
        std::string name = scenario.substr(6);
        ErrorMsg err;
        err.code = name == "ENOENT"      ? ENOENT
                   : name == "ESRCH"     ? ESRCH
                   : name == "EPERM"     ? EPERM
                   : name == "ETIMEDOUT" ? ETIMEDOUT
                                         : EPROTO;
        std::snprintf(err.message, sizeof err.message, "fake numakeepd: %s", name.c_str());
        send_frame(fd, MsgType::Error, seq, err);
        return;
    }
    send_frame(fd, MsgType::ProcEntry, seq, make_process(q.pid));
    PolicyEntry r1 =
        make_policy(Mode::Interleave, Nodemask::range(0, 3), Nodemask{0, 1}, Nodemask{0, 1});
    r1.start = 0x7f0000000000;
    r1.end = r1.start + (1 << 20);
    PolicyEntry r2 = make_policy(Mode::Bind, Nodemask{2, 3}, Nodemask{0, 1}, Nodemask{0});
    r2.start = 0x7f0000200000;
    r2.end = r2.start + 4096;
    r2.home_node = 3;
    r2.rule_home_node = 1;
    PolicyEntry r3 = make_policy(Mode::Preferred, Nodemask{3}, Nodemask{1}, Nodemask{1});
    r3.start = 0x7f0000400000;
    r3.end = r3.start + 3 * 4096;
    r3.assisted = 1;
    r3.kernel_mode |= kFlagRelativeNodes;
    PolicyEntry r4 = make_policy(Mode::Bind, Nodemask{1}, Nodemask{1}, Nodemask{});
    r4.start = 0x7f0000800000;
    r4.end = r4.start + 8192;
    r4.kernel_ok = 0;
    for (const auto& r : {r2, r1, r3, r4}) send_frame(fd, MsgType::ShowRange, seq, r);
    PolicyEntry t1 =
        make_policy(Mode::Interleave, Nodemask::range(0, 3), Nodemask{0, 1}, Nodemask{0, 1});
    t1.tid = q.pid;
    PolicyEntry t2 =
        make_policy(Mode::PreferredMany, Nodemask{2, 3}, Nodemask{0, 1}, Nodemask{2, 3});
    t2.tid = q.pid + 1;
    t2.flags = kFlagStaticNodes;
    t2.kernel_mode |= kFlagStaticNodes;
    send_frame(fd, MsgType::ShowThread, seq, t2);
    send_frame(fd, MsgType::ShowThread, seq, t1);
    RecordsEnd end;
    end.ranges = 4;
    end.threads = 2;
    send_frame(fd, MsgType::ShowEnd, seq, end);
}

void answer_status(int fd, std::uint32_t seq) {
    StatusReply s;
    s.daemon_pid = static_cast<std::uint32_t>(getpid());
    s.processes = static_cast<std::uint32_t>(process_count);
    s.uptime_ms = 3723000;
    s.ranges = 12;
    s.threads = 4;
    s.rebinds = 7;
    s.ranges_rebound = 40;
    s.ranges_dropped = 1;
    s.reconcile_ms = 2000;
    s.rebind_timeout_ms = 1000;
    s.max_conns_per_uid = 4096;
    s.max_concurrency = 16;
    s.log_level = 2;
    std::snprintf(s.config_path, sizeof s.config_path, "/etc/numakeep/numakeepd.conf");
    std::snprintf(s.version, sizeof s.version, "0.1.0-fake");
    send_frame(fd, MsgType::StatusReply, seq, s);
}

void serve(int fd) {
    FrameHeader h;
    unsigned char payload[kMaxPayload];
    while (read_all(fd, &h, sizeof h)) {
        if (check_header(h) != HeaderCheck::Ok || !read_all(fd, payload, h.payload_size)) return;
        if (scenario == "silent") continue;
        switch (static_cast<MsgType>(h.type)) {
            case MsgType::QueryList: {
                for (int i = 0; i < process_count; ++i)
                    send_frame(fd, MsgType::ProcEntry, h.seq, make_process(1000 + i));
                ListEnd end;
                end.count = static_cast<std::uint32_t>(process_count);
                send_frame(fd, MsgType::ListEnd, h.seq, end);
                break;
            }
            case MsgType::QueryShow: {
                QueryShow q;
                decode(h, payload, q);
                answer_show(fd, h.seq, q);
                break;
            }
            case MsgType::QueryStatus:
                answer_status(fd, h.seq);
                break;
            default:
                return;
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: fake_numakeepd SOCKET SCENARIO\n");
        return 2;
    }
    scenario = argv[2];
    if (scenario.rfind("many:", 0) == 0) process_count = std::atoi(scenario.c_str() + 5);
    int srv = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", argv[1]);
    unlink(argv[1]);
    if (bind(srv, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(srv, 16) != 0) {
        std::perror("fake_numakeepd: bind/listen");
        return 1;
    }
    while (true) {
        int fd = accept4(srv, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        serve(fd);
        close(fd);
    }
}
