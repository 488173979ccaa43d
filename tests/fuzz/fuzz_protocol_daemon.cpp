// SPDX-License-Identifier: MIT
// Fuzz target: numakeepd's side of the wire format, agent and CLI frames
// in. The whole daemon (the numakeepd library: its Server's frame reader,
// its dispatcher, the registry and the queries) runs on its own thread
// against a private socket in a temporary directory, with cgroup_root an
// empty directory, so nothing on the machine is touched.
//
// Each input is what one client sends on one connection; the harness then
// half-closes it. The daemon must answer with well-formed frames only and
// close the connection (it reads EOF) within a few seconds; anything else
// is a finding. Hello frames get the harness's own pid written in, since a
// Hello naming another pid is dropped at once (SO_PEERCRED check) and the
// fuzzer could never get past it otherwise.
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "config.hpp"
#include "numakeep/protocol.hpp"
#include "numakeepd.hpp"

using namespace numakeep;
using namespace numakeep::daemon;

namespace {

void require(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "fuzz-protocol_daemon: %s\n", what);
        std::abort();  // libFuzzer reports the input; the replay test fails
    }
}

std::string g_socket;

// Starts one daemon for the whole run; it is never stopped (the process
// exits under it), so it is kept on the heap and never destroyed.
void start_daemon() {
    char tmpl[] = "/tmp/numakeep-fuzz-XXXXXX";
    require(::mkdtemp(tmpl) != nullptr, "mkdtemp");
    std::string dir = tmpl;
    ::mkdir((dir + "/cgroup").c_str(), 0755);
    g_socket = dir + "/numakeepd.sock";
    Options opts;
    opts.config_path = dir + "/absent.conf";
    opts.socket_path = g_socket;
    opts.log_level = LogLevel::Off;
    Config cfg;
    cfg.cgroup_root = dir + "/cgroup";
    cfg.log_level = LogLevel::Off;
    cfg.message_timeout_ms = 2000;
    auto* daemon = new Numakeepd(opts, cfg);
    std::thread([daemon] { daemon->run(); }).detach();
    for (int i = 0; i < 500; ++i) {
        struct stat st {};
        if (::stat(g_socket.c_str(), &st) == 0) return;
        ::usleep(10'000);
    }
    require(false, "the daemon did not create its socket within 5 s");
}

int connect_daemon() {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", g_socket.c_str());
    for (int i = 0; i < 100; ++i) {
        if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
        ::usleep(1000);  // listen() may follow bind() by a moment
    }
    require(false, "cannot connect to the daemon");
    return -1;
}

// Writes our pid into every Hello of the leading run of valid frames.
void patch_hellos(std::vector<unsigned char>& bytes) {
    std::size_t at = 0;
    while (at + sizeof(proto::FrameHeader) <= bytes.size()) {
        proto::FrameHeader h;
        std::memcpy(&h, bytes.data() + at, sizeof h);
        if (proto::check_header(h) != proto::HeaderCheck::Ok) return;
        std::size_t body = at + sizeof h;
        if (body + h.payload_size > bytes.size()) return;
        if (h.type == static_cast<std::uint16_t>(proto::MsgType::Hello)) {
            std::int32_t pid = ::getpid();
            std::memcpy(bytes.data() + body + offsetof(proto::Hello, pid), &pid, sizeof pid);
        }
        at = body + h.payload_size;
    }
}

// Everything the daemon says must be whole, valid frames of the types it sends.
void check_answer(const std::vector<unsigned char>& in) {
    std::size_t at = 0;
    while (at < in.size()) {
        proto::FrameHeader h;
        require(in.size() - at >= sizeof h, "the daemon sent a torn frame header");
        std::memcpy(&h, in.data() + at, sizeof h);
        require(proto::check_header(h) == proto::HeaderCheck::Ok, "the daemon sent a bad header");
        require(h.type >= 20, "the daemon sent a message only agents send");
        require(in.size() - at - sizeof h >= h.payload_size, "the daemon sent a torn payload");
        at += sizeof h + h.payload_size;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static bool started = (start_daemon(), true);
    (void)started;
    std::vector<unsigned char> bytes(data, data + size);
    patch_hellos(bytes);

    int fd = connect_daemon();
    std::size_t sent = 0;
    while (sent < bytes.size()) {
        ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // dropped early: fine
        sent += static_cast<std::size_t>(n);
    }
    ::shutdown(fd, SHUT_WR);

    std::vector<unsigned char> answer;
    unsigned char buf[65536];
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        int r = ::poll(&p, 1, 10'000);
        require(r != 0, "the daemon kept a half-closed connection open for 10 s");
        if (r < 0 && errno == EINTR) continue;
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        answer.insert(answer.end(), buf, buf + n);
    }
    ::close(fd);
    check_answer(answer);
    return 0;
}
