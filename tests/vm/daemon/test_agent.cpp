// SPDX-License-Identifier: MIT
// nk-test-agent: a stand-in for a program under libnumakeep.so, for the
// daemon's guest tests. It makes the DESIGN.md requests (interleave 0-3,
// bind 0-3, preferred 3, preferred_many 2-3 on four ranges, a task policy
// interleave 0-3), then plays the agent itself: Hello, and on every Rebind
// re-issues rule(request, M0, M_new) with raw syscalls and answers
// RebindDone. It reconnects when the daemon goes away, as the agent must.
//
// The driver talks to it on stdin/stdout, one line each:
//   check  -> "ok <what the kernel holds>" when every range and the task
//             policy equal rule(request, M0, Mems_allowed now), else
//             "fail <what differs>"
//   quit   -> exits
// It prints "ready" once welcomed.
//
//   nk-test-agent SOCKET [--semantics intent|static|relative] [--ranges N] [--report]
#include <numaif.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "guest.hpp"
#include "numakeep/protocol.hpp"
#include "numakeep/rebind.hpp"
#include "wire_client.hpp"

using namespace numakeep;
using namespace numakeep::guest;
using numakeep::testing::WireClient;

namespace {

struct Tracked {
    void* addr;
    std::size_t len;
    Request req;
};

std::vector<Tracked> g_ranges;
std::vector<std::unique_ptr<Mapping>> g_maps;
Request g_task;
Nodemask g_m0;
Semantics g_semantics = Semantics::Intent;
bool g_semantics_from_env = false;
bool g_report = false;
// --preload: the requests go through libnuma's mbind/set_mempolicy (which
// libnumakeep.so interposes) and the real agent of libnumakeep.so does the
// rebinds; this program only answers "check".
bool g_preload = false;  // --report: print "recv GEN NS" / "done GEN NS" per Rebind

std::int64_t now_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
std::uint64_t g_generation = 0;
Nodemask g_applied;

Request make(Mode m, Nodemask nodes) {
    Request r;
    r.mode = m;
    r.nodes = nodes;
    return r;
}

// The program's own requests: through libnuma's wrappers under --preload,
// so that libnumakeep.so records them; raw syscalls otherwise.
long request_mbind(void* addr, std::size_t len, int mode, const Nodemask& nodes) {
    if (g_preload)
        return ::mbind(addr, len, mode, nodes.kernel_data(), Nodemask::kKernelMaxnode, 0);
    return sys_mbind(addr, len, mode, nodes);
}
long request_set_mempolicy(int mode, const Nodemask& nodes) {
    if (g_preload) return ::set_mempolicy(mode, nodes.kernel_data(), Nodemask::kKernelMaxnode);
    return sys_set_mempolicy(mode, nodes);
}

unsigned apply(const Nodemask& mems, bool move, unsigned& errors, int& first_errno) {
    unsigned rebound = 0;
    for (auto& t : g_ranges) {
        Rebound rb = rebind_nodes(t.req, g_m0, mems, g_semantics);
        int mode = static_cast<int>(t.req.mode) | rb.flags;
        if (sys_mbind(t.addr, t.len, mode, rb.nodes, move ? (1U << 1) /* MPOL_MF_MOVE */ : 0) ==
            0) {
            ++rebound;
        } else {
            if (!errors++) first_errno = errno;
        }
    }
    Rebound rb = rebind_nodes(g_task, g_m0, mems, g_semantics);
    if (sys_set_mempolicy(static_cast<int>(g_task.mode) | rb.flags, rb.nodes) != 0 && !errors++)
        first_errno = errno;
    return rebound;
}

std::string describe(const std::optional<PolicyReadback>& p) {
    return p ? to_string(*p) : std::string("unreadable");
}

// Compares every range and the task policy with the rule; the answer names
// the four DESIGN.md ranges and the task policy, and at most five mismatches.
std::string check() {
    Nodemask now = mems_allowed();
    std::string held, bad;
    unsigned mismatches = 0, extra_ok = 0;
    auto compare = [&](const std::string& what, const Request& req,
                       const std::optional<PolicyReadback>& got, bool show) {
        Rebound rb = rebind_nodes(req, g_m0, now, g_semantics);
        PolicyReadback want{req.mode, req.flags, rb.nodes};
        bool ok = got && *got == want;
        if (show) held += (held.empty() ? "" : ", ") + what + " " + describe(got);
        if (ok && !show) ++extra_ok;
        if (!ok && ++mismatches <= 5)
            bad += (bad.empty() ? "" : "; ") + what + " holds " + describe(got) + ", rule gives " +
                   to_string(want);
    };
    static const char* names[] = {"interleave", "bind", "preferred", "preferred_many"};
    for (std::size_t i = 0; i < g_ranges.size(); ++i)
        compare(i < 4 ? names[i] : "extra range " + std::to_string(i - 4), g_ranges[i].req,
                range_policy(g_ranges[i].addr), i < 4);
    compare("task", g_task, thread_policy(), true);
    if (g_ranges.size() > 4) held += ", " + std::to_string(extra_ok) + " extra ranges match";
    if (mismatches > 5) bad += "; " + std::to_string(mismatches - 5) + " more";
    return mismatches == 0 ? "ok mems " + now.to_string() + ": " + held
                           : "fail mems " + now.to_string() + ": " + bad;
}

bool hello(WireClient& c, const std::string& socket) {
    if (!c.connect(socket)) return false;
    proto::Hello h;
    h.pid = ::getpid();
    h.start_time = testing::self_start_time();
    h.flags = g_semantics_from_env ? proto::kHelloSemanticsFromEnv : 0;
    h.semantics = static_cast<std::uint8_t>(g_semantics);
    h.generation_applied = g_generation;
    h.ranges = static_cast<std::uint32_t>(g_ranges.size());
    h.threads = 1;
    h.mems = g_applied;
    if (!c.send(proto::MsgType::Hello, h)) return false;
    auto w = c.recv_type(proto::MsgType::Welcome, 5000);
    if (!w) return false;
    if (!g_semantics_from_env)
        g_semantics = static_cast<Semantics>(w->as<proto::Welcome>().default_semantics);
    return true;
}

void on_frame(WireClient& c, const testing::Frame& f) {
    using proto::MsgType;
    if (f.type() == MsgType::Rebind) {
        auto r = f.as<proto::Rebind>();
        if (g_report)
            std::printf("recv %llu %lld\n", static_cast<unsigned long long>(r.generation),
                        static_cast<long long>(now_ns()));
        auto t0 = std::chrono::steady_clock::now();
        proto::RebindDone done;
        done.generation = r.generation;
        unsigned errors = 0;
        int first = 0;
        done.ranges_rebound = apply(r.mems, r.flags & proto::kRebindMovePages, errors, first);
        done.threads_rebound = 1;
        done.errors = errors;
        done.first_errno = first;
        done.duration_ns =
            static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                           std::chrono::steady_clock::now() - t0)
                                           .count());
        g_generation = r.generation;
        g_applied = r.mems;
        c.send(MsgType::RebindDone, done);
        if (g_report)
            std::printf("done %llu %lld\n", static_cast<unsigned long long>(r.generation),
                        static_cast<long long>(now_ns()));
    } else if (f.type() == MsgType::DumpRecords) {
        auto d = f.as<proto::DumpRecords>();
        Nodemask now = mems_allowed();
        for (const auto& t : g_ranges) {
            proto::PolicyEntry e;
            e.request_id = d.request_id;
            e.start = reinterpret_cast<std::uintptr_t>(t.addr);
            e.end = e.start + t.len;
            e.mode = static_cast<std::uint16_t>(t.req.mode);
            e.requested = t.req.nodes;
            e.mems_at_request = g_m0;
            e.rule_now = rebind_nodes(t.req, g_m0, now, g_semantics).nodes;
            if (auto p = range_policy(t.addr)) {
                e.kernel_ok = 1;
                e.kernel_mode =
                    static_cast<std::uint16_t>(static_cast<unsigned>(p->mode) | p->flags);
                e.kernel_now = p->nodes;
            }
            c.send(MsgType::RangeEntry, e);
        }
        proto::RecordsEnd end;
        end.request_id = d.request_id;
        end.ranges = static_cast<std::uint32_t>(g_ranges.size());
        c.send(MsgType::RecordsEnd, end);
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: nk-test-agent SOCKET [--semantics S] [--ranges N]\n");
        return 2;
    }
    std::string socket = argv[1];
    unsigned extra = 0;
    for (int i = 2; i < argc; i += 2) {
        std::string opt = argv[i];
        if (opt == "--report" || opt == "--preload") {
            (opt == "--report" ? g_report : g_preload) = true;
            --i;
            continue;
        }
        if (i + 1 >= argc) return 2;
        if (opt == "--semantics") {
            if (!parse_semantics(argv[i + 1], g_semantics)) return 2;
            g_semantics_from_env = true;
        } else if (opt == "--ranges") {
            extra = static_cast<unsigned>(std::atoi(argv[i + 1]));
        } else {
            return 2;
        }
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    g_m0 = mems_allowed();
    g_applied = g_m0;
    const std::size_t len = 1 << 20;
    const Request requests[] = {
        make(Mode::Interleave, Nodemask::range(0, 3)), make(Mode::Bind, Nodemask::range(0, 3)),
        make(Mode::Preferred, Nodemask{3}), make(Mode::PreferredMany, Nodemask{2, 3})};
    for (const auto& r : requests) {
        g_maps.push_back(std::make_unique<Mapping>(len));
        g_ranges.push_back({g_maps.back()->data(), len, r});
    }
    if (extra) {
        // Distinct, non-adjacent ranges: one mapping, every other page bound.
        const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
        g_maps.push_back(std::make_unique<Mapping>(page * 2 * extra));
        auto* base = static_cast<char*>(g_maps.back()->data());
        for (unsigned i = 0; i < extra; ++i)
            g_ranges.push_back(
                {base + 2 * i * page, page,
                 make(i % 2 ? Mode::Bind : Mode::Interleave, Nodemask::range(0, 3))});
    }
    // The requests, made under M0 as a program would.
    for (auto& t : g_ranges)
        if (request_mbind(t.addr, t.len, static_cast<int>(t.req.mode), t.req.nodes) != 0)
            die("mbind of a request");
    g_task = make(Mode::Interleave, Nodemask::range(0, 3));
    if (request_set_mempolicy(static_cast<int>(g_task.mode), g_task.nodes) != 0)
        die("set_mempolicy");
    if (g_preload) {
        if (const char* env = std::getenv("NUMAKEEP_SEMANTICS")) parse_semantics(env, g_semantics);
        std::printf("ready\n");
        std::string in;
        char buf[256];
        for (;;) {
            ssize_t n = ::read(0, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;  // the runtime's thread rebind signal
            if (n <= 0) return 0;
            in.append(buf, static_cast<std::size_t>(n));
            std::size_t nl;
            while ((nl = in.find('\n')) != std::string::npos) {
                std::string cmd = in.substr(0, nl);
                in.erase(0, nl + 1);
                if (cmd == "check") std::printf("%s\n", check().c_str());
                if (cmd == "quit") return 0;
            }
        }
    }

    WireClient c;
    while (!hello(c, socket)) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::printf("ready\n");
    char line[256];
    std::string in;
    for (;;) {
        pollfd fds[2] = {{c.fd(), POLLIN, 0}, {0, POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0) continue;
        if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            auto f = c.recv(1000);
            if (f) {
                on_frame(c, *f);
            } else {
                // The daemon went away: reconnect, as the agent does.
                c.close();
                while (!hello(c, socket))
                    std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
        }
        if (fds[1].revents & (POLLIN | POLLHUP)) {
            ssize_t n = ::read(0, line, sizeof line);
            if (n <= 0) return 0;
            in.append(line, static_cast<std::size_t>(n));
            std::size_t nl;
            while ((nl = in.find('\n')) != std::string::npos) {
                std::string cmd = in.substr(0, nl);
                in.erase(0, nl + 1);
                if (cmd == "check") std::printf("%s\n", check().c_str());
                if (cmd == "quit") return 0;
            }
        }
    }
}
