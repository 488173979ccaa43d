// SPDX-License-Identifier: MIT
// Shared scaffolding of the runtime's host tests: each test is a tiny real
// program. Run with no argument it is the plain program; run with
// --preload=PATH it re-executes itself with LD_PRELOAD=PATH and a private
// NUMAKEEP_SOCKET, on which it serves as its own fake daemon (fake_daemon.hpp)
// so it can ask the agent for its records.
//
// Prints "PASS: ..." / "FAIL: ..." per check; exit 0 when all passed.
#pragma once

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "fake_daemon.hpp"
#include "numakeep/mpol.hpp"
#include "numakeep/policy.hpp"
#include "raw_syscall.hpp"

namespace numakeep::testing {

using proto::PolicyEntry;

class Harness {
  public:
    Harness(int argc, char** argv) {
        const char* reexec = std::getenv("NUMAKEEP_TEST_REEXEC");
        for (int i = 1; i < argc; ++i)
            if (std::strncmp(argv[i], "--preload=", 10) == 0 && !reexec)
                reexec_with(argv, argv[i] + 10);
        preloaded_ = reexec != nullptr;
        if (preloaded_) {
            socket_ = std::getenv("NUMAKEEP_SOCKET");
            if (!daemon_.listen(socket_)) std::exit(1);
        }
        std::printf("%s run\n", preloaded_ ? "preloaded" : "plain");
    }
    ~Harness() {
        if (preloaded_) ::unlink(socket_.c_str());
    }

    bool preloaded() const { return preloaded_; }
    FakeDaemon& daemon() { return daemon_; }
    const proto::Hello& hello() const { return hello_; }

    void check(bool ok, const char* fmt, ...) __attribute__((format(printf, 3, 4))) {
        char buf[512];
        va_list ap;
        va_start(ap, fmt);
        std::vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        std::printf("%s: %s\n", ok ? "PASS" : "FAIL", buf);
        std::fflush(stdout);
        if (!ok) ++failures_;
    }

    // Accepts the agent the first time, then asks for its records.
    bool records(std::vector<PolicyEntry>& ranges, std::vector<PolicyEntry>& threads) {
        if (!connected_) {
            connected_ = daemon_.accept_agent(hello_);
            check(connected_, "the agent connected and said Hello (pid %d)", hello_.pid);
            if (!connected_) return false;
        }
        bool ok = daemon_.dump(ranges, threads);
        check(ok, "DumpRecords answered (%zu ranges, %zu threads)", ranges.size(), threads.size());
        return ok;
    }
    void forget_connection() { connected_ = false; }

    int finish() {
        std::printf("%s\n", failures_ ? "FAILED" : "OK");
        return failures_ ? 1 : 0;
    }

  private:
    [[noreturn]] static void reexec_with(char** argv, const char* lib) {
        char dir[] = "/tmp/numakeep-rt-XXXXXX";
        if (!::mkdtemp(dir)) std::exit(1);
        std::string sock = std::string(dir) + "/numakeepd.sock";
        ::setenv("NUMAKEEP_SOCKET", sock.c_str(), 1);
        // A sanitized build needs the sanitizer runtime loaded first
        // (tools/test-sanitizers names it).
        std::string preload = lib;
        if (const char* prefix = std::getenv("NUMAKEEP_TEST_PRELOAD_PREFIX"); prefix && *prefix)
            preload = std::string(prefix) + ":" + preload;
        ::setenv("LD_PRELOAD", preload.c_str(), 1);
        ::setenv("NUMAKEEP_TEST_REEXEC", "1", 1);
        ::setenv("NUMAKEEP_DEBUG", "1", 1);
        ::setenv("NUMAKEEP_DAEMON_UID", std::to_string(::getuid()).c_str(), 1);
        ::execv("/proc/self/exe", argv);
        std::perror("execv");
        std::exit(1);
    }

    bool preloaded_ = false;
    bool connected_ = false;
    int failures_ = 0;
    std::string socket_;
    FakeDaemon daemon_;
    proto::Hello hello_{};
};

inline const PolicyEntry* find_range(const std::vector<PolicyEntry>& v, const void* start) {
    for (auto& e : v)
        if (e.start == reinterpret_cast<std::uint64_t>(start)) return &e;
    return nullptr;
}

inline const PolicyEntry* find_thread(const std::vector<PolicyEntry>& v, pid_t tid) {
    for (auto& e : v)
        if (e.tid == tid) return &e;
    return nullptr;
}

// The record covering addr, or nullptr (neighbours with the same record
// are merged, so a range need not start where its mbind did).
inline const PolicyEntry* covering(const std::vector<PolicyEntry>& v, const void* addr) {
    auto a = reinterpret_cast<std::uint64_t>(addr);
    for (auto& e : v)
        if (e.start <= a && a < e.end) return &e;
    return nullptr;
}
// True when one record covers all of [start, start+len).
inline bool covered(const std::vector<PolicyEntry>& v, const void* start, std::size_t len) {
    const PolicyEntry* e = covering(v, start);
    return e && e->end >= reinterpret_cast<std::uint64_t>(start) + len;
}

// True when some record overlaps [start, start+len).
inline bool any_record_in(const std::vector<PolicyEntry>& v, const void* start, std::size_t len) {
    auto s = reinterpret_cast<std::uint64_t>(start);
    for (auto& e : v)
        if (e.start < s + len && e.end > s) return true;
    return false;
}

inline char* map_pages(std::size_t pages) {
    void* p =
        ::mmap(nullptr, pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        std::perror("mmap");
        std::exit(1);
    }
    return static_cast<char*>(p);
}

// The task's mems, read without libnuma or the preload.
inline Nodemask mems_allowed() {
    Nodemask m;
    preload::raw(SYS_get_mempolicy, 0, m.kernel_data(), Nodemask::kKernelMaxnode, 0,
                 mpol::kGetMemsAllowed);
    return m;
}

inline pid_t gettid_raw() {
    return static_cast<pid_t>(preload::raw(SYS_gettid));
}

}  // namespace numakeep::testing
