// SPDX-License-Identifier: MIT
// Fuzz target: the CLI's side of the wire format, daemon frames in. A fake
// daemon on a thread of its own answers every connection with the input's
// bytes and then closes; the real `numakeep ps`, `show PID` and `status`
// (tools/numakeep, table and --json output) read that answer. Whatever the
// bytes, the command must return or throw CliError: never crash, never
// read out of bounds (comm/cgroup fields without their NUL included),
// never hang.
//
// The first input byte picks the command (low 2 bits) and --json (bit 2).
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#include "cli_error.hpp"
#include "commands.hpp"

using namespace numakeep::cli;

namespace {

void require(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "fuzz-protocol_client: %s\n", what);
        std::abort();
    }
}

// The answer for the next connection, handed from the fuzzer's thread to
// the fake daemon's.
std::mutex g_mu;
std::condition_variable g_cv;
const std::uint8_t* g_answer = nullptr;
std::size_t g_answer_size = 0;
bool g_served = true;

void fake_daemon(int listener) {
    for (;;) {
        int c = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) continue;
        std::unique_lock lock(g_mu);
        std::size_t sent = 0;
        while (sent < g_answer_size) {
            ssize_t n = ::send(c, g_answer + sent, g_answer_size - sent, MSG_NOSIGNAL);
            if (n <= 0) break;  // the client gave up reading: fine
            sent += static_cast<std::size_t>(n);
        }
        ::shutdown(c, SHUT_WR);
        char sink[256];
        while (::recv(c, sink, sizeof sink, 0) > 0) {
        }
        ::close(c);
        g_served = true;
        g_cv.notify_all();
    }
}

void start_fake_daemon() {
    char tmpl[] = "/tmp/numakeep-fuzz-cli-XXXXXX";
    require(::mkdtemp(tmpl) != nullptr, "mkdtemp");
    std::string path = std::string(tmpl) + "/numakeepd.sock";
    int l = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    require(::bind(l, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0, "bind");
    require(::listen(l, 16) == 0, "listen");
    ::setenv("NUMAKEEP_SOCKET", path.c_str(), 1);
    std::thread(fake_daemon, l).detach();
}

int run_command(unsigned which, bool json) {
    std::string pid = std::to_string(::getpid());
    char name_ps[] = "ps", name_show[] = "show", name_status[] = "status", opt_json[] = "--json";
    char* argv[4] = {};
    int argc = 0;
    switch (which) {
        case 0:
            argv[argc++] = name_ps;
            break;
        case 1:
        case 3:
            argv[argc++] = name_show;
            argv[argc++] = pid.data();
            break;
        default:
            argv[argc++] = name_status;
            break;
    }
    if (json) argv[argc++] = opt_json;
    switch (which) {
        case 0:
            return cmd_ps(argc, argv);
        case 2:
            return cmd_status(argc, argv);
        default:
            return cmd_show(argc, argv);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static bool started = (start_fake_daemon(), true);
    (void)started;
    if (size == 0) return 0;
    {
        std::lock_guard lock(g_mu);
        g_answer = data + 1;
        g_answer_size = size - 1;
        g_served = false;
    }
    // The commands print their answer: keep it out of the fuzzer's output.
    std::fflush(stdout);
    int saved = ::dup(1);
    int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    ::dup2(null, 1);
    ::close(null);
    try {
        run_command(data[0] & 3U, (data[0] & 4U) != 0);
    } catch (const CliError&) {
        // A refused answer: what the CLI must do with garbage.
    }
    std::fflush(stdout);
    ::dup2(saved, 1);
    ::close(saved);
    // Wait until the fake daemon is done with this input before it goes away.
    std::unique_lock lock(g_mu);
    require(g_cv.wait_for(lock, std::chrono::seconds(20), [] { return g_served; }),
            "the command never connected or never closed");
    return 0;
}
