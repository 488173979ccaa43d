// SPDX-License-Identifier: MIT
// The guest side of the daemon's vm cases and benchmarks: a private
// numakeepd, nk-test-agent processes on pipes, QueryList and QueryStatus.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <string>

#include "guest.hpp"
#include "numakeep/protocol.hpp"
#include "wire_client.hpp"

namespace numakeep::vmtest {

using namespace numakeep::guest;
using numakeep::testing::WireClient;

inline const char* kSocket = "/run/numakeep/test.sock";
inline const char* kConfig = "/tmp/numakeepd-test.conf";
inline const char* kLog = "/tmp/numakeepd-test.log";

class Daemon {
  public:
    void start() {
        pid_ = ::fork();
        if (pid_ == 0) {
            int fd = ::open(kLog, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
            ::dup2(fd, 2);
            ::execlp("numakeepd", "numakeepd", "--socket", kSocket, "--config", kConfig,
                     "--foreground", static_cast<char*>(nullptr));
            ::_exit(127);
        }
        bool up = wait_until([] { return ::access(kSocket, F_OK) == 0; },
                             std::chrono::milliseconds(5000));
        if (!up) die("numakeepd did not create its socket", ETIMEDOUT);
    }
    void kill(int sig) {
        ::kill(pid_, sig);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }
    pid_t pid() const { return pid_; }
    ~Daemon() {
        if (pid_ > 0) kill(SIGTERM);
    }

  private:
    pid_t pid_ = -1;
};

inline std::map<int, proto::ProcEntry> list_processes() {
    std::map<int, proto::ProcEntry> out;
    WireClient cli(kSocket);
    if (!cli.connected() || !cli.send(proto::MsgType::QueryList, proto::Empty{})) return out;
    for (;;) {
        auto f = cli.recv(2000);
        if (!f || f->type() != proto::MsgType::ProcEntry) return out;
        auto e = f->as<proto::ProcEntry>();
        out[e.pid] = e;
    }
}

// The daemon's QueryStatus answer; a zeroed one when it does not answer.
inline proto::StatusReply daemon_status() {
    WireClient cli(kSocket);
    if (!cli.connected() || !cli.send(proto::MsgType::QueryStatus, proto::Empty{})) return {};
    auto f = cli.recv(2000);
    if (!f || f->type() != proto::MsgType::StatusReply) return {};
    return f->as<proto::StatusReply>();
}

// One nk-test-agent with a pipe each way.
class Agent {
  public:
    // NK_AGENT=preload in the environment: the program runs under the real
    // libnumakeep.so ($NUMAKEEP_PRELOAD) and its agent does the rebinds.
    // wait = false: returns at once; await_ready() later (many programs
    // make their requests in parallel).
    explicit Agent(const std::string& semantics = "", unsigned extra_ranges = 0,
                   bool report = false, bool wait = true) {
        const char* kind = std::getenv("NK_AGENT");
        bool preload = kind && std::string(kind) == "preload";
        int to[2], from[2];
        if (::pipe(to) != 0 || ::pipe(from) != 0) die("pipe");
        pid_ = ::fork();
        if (pid_ == 0) {
            ::dup2(to[0], 0);
            ::dup2(from[1], 1);
            ::close(to[1]);
            ::close(from[0]);
            std::string extra = std::to_string(extra_ranges);
            const char* argv[9] = {"nk-test-agent", kSocket, "--ranges", extra.c_str()};
            int n = 4;
            if (!semantics.empty()) {
                argv[n++] = "--semantics";
                argv[n++] = semantics.c_str();
            }
            if (report) argv[n++] = "--report";
            if (preload) {
                argv[n++] = "--preload";
                const char* lib = std::getenv("NUMAKEEP_PRELOAD");
                ::setenv("LD_PRELOAD", lib ? lib : "/usr/local/lib/numakeep/libnumakeep.so", 1);
                ::setenv("NUMAKEEP_SOCKET", kSocket, 1);
                ::setenv("NUMAKEEP_DEBUG", "1", 1);
                if (!semantics.empty()) ::setenv("NUMAKEEP_SEMANTICS", semantics.c_str(), 1);
            }
            argv[n] = nullptr;
            ::execvp("nk-test-agent", const_cast<char* const*>(argv));
            ::_exit(127);
        }
        ::close(to[0]);
        ::close(from[1]);
        to_ = to[1];
        from_ = ::fdopen(from[0], "r");
        preload_ = preload;
        if (wait) await_ready();
    }
    // "ready" read, and under the real libnumakeep.so registered by its
    // agent with every request recorded.
    void await_ready() {
        if (line() != "ready") die("nk-test-agent did not start", EIO);
        if (preload_) {
            // Registered by its agent, with every request recorded.
            bool up = wait_until(
                [&] {
                    auto procs = list_processes();
                    auto it = procs.find(pid_);
                    return it != procs.end() && !it->second.rebind_pending;
                },
                std::chrono::milliseconds(60000));
            if (!up) die("the agent of libnumakeep.so did not register", ETIMEDOUT);
        }
    }
    ~Agent() {
        ::kill(pid_, SIGCONT);
        ask("quit");
        ::close(to_);
        std::fclose(from_);
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
    pid_t pid() const { return pid_; }
    // The read end of its stdout, for unsolicited --report lines.
    int output_fd() const { return fileno(from_); }
    std::string ask(const std::string& cmd) {
        std::string c = cmd + "\n";
        if (::write(to_, c.data(), c.size()) != static_cast<ssize_t>(c.size())) return "";
        return cmd == "quit" ? "" : line();
    }
    // One line, read byte by byte: no stdio buffer hides later lines from
    // a poll() on output_fd().
    std::string line() {
        std::string s;
        char ch;
        while (::read(fileno(from_), &ch, 1) == 1 && ch != '\n') s += ch;
        return s;
    }

  private:
    bool preload_ = false;
    pid_t pid_ = -1;
    int to_ = -1;
    FILE* from_ = nullptr;
};

}  // namespace numakeep::vmtest
