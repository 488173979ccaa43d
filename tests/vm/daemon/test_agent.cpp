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
// Under --preload only (a real program under libnumakeep.so):
//   churn-start MS  -> "churning": from now on forks a child every MS ms,
//                      keeping the 8 newest alive (the oldest is killed)
//   churn-stop      -> "children PID..." the live children, forking stops
//   check-children  -> every live child runs "check" on itself and exits:
//                      "ok N children ..." or "fail ..."
//   threads N [inherit] -> starts N threads, each with its own task policy
//                      (set_mempolicy under the mems of the moment), or
//                      with "inherit" none (the main thread's, at clone)
//   check-threads   -> every thread reads its own task policy back
//                      (get_mempolicy from inside it) against the rule:
//                      "ok N threads ..." or "fail ..."
// It prints "ready" once welcomed.
//
//   nk-test-agent SOCKET [--semantics intent|static|relative] [--ranges N] [--report]
#include <fcntl.h>
#include <numaif.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "guest.hpp"
#include "numakeep/mpol.hpp"
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
        if (sys_mbind(t.addr, t.len, mode, rb.nodes, move ? mpol::kMfMove : 0U) == 0) {
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

PolicyReadback rule_now(const Request& req, const Nodemask& m_at, const Nodemask& now) {
    Rebound rb = rebind_nodes(req, m_at, now, g_semantics);
    return PolicyReadback{req.mode, req.flags, rb.nodes};
}

// --- fork churn (fork-during-rebind) -------------------------------------------

struct Churn {
    bool on = false;
    int interval_ms = 20;
    int ctl[2] = {-1, -1};  // children block on ctl[0]; EOF: check and exit
    int res[2] = {-1, -1};  // children write "PID ok|fail ..." lines here
    std::deque<pid_t> kids;
    unsigned forks = 0;
};
Churn g_churn;
constexpr std::size_t kLiveChildren = 8;

void reap(pid_t pid) {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
}

void churn_fork() {
    if (g_churn.kids.size() >= kLiveChildren) {
        ::kill(g_churn.kids.front(), SIGKILL);
        reap(g_churn.kids.front());
        g_churn.kids.pop_front();
    }
    pid_t pid = ::fork();
    if (pid < 0) return;
    if (pid == 0) {
        ::close(g_churn.ctl[1]);
        ::close(g_churn.res[0]);
        char b;
        while (::read(g_churn.ctl[0], &b, 1) < 0 && errno == EINTR) {
        }
        std::string line = std::to_string(::getpid()) + " " + check() + "\n";
        if (line.size() > 4000) line = line.substr(0, 3999) + "\n";  // one atomic pipe write
        ssize_t n = ::write(g_churn.res[1], line.data(), line.size());
        ::_exit(n == static_cast<ssize_t>(line.size()) ? 0 : 1);
    }
    g_churn.kids.push_back(pid);
    ++g_churn.forks;
}

std::string churn_start(int interval_ms) {
    if (g_churn.on || ::pipe2(g_churn.ctl, O_CLOEXEC) != 0 || ::pipe2(g_churn.res, O_CLOEXEC) != 0)
        return "error";
    g_churn.on = true;
    g_churn.interval_ms = interval_ms > 0 ? interval_ms : 20;
    g_churn.forks = 0;
    return "churning";
}

std::string churn_stop() {
    g_churn.on = false;
    std::string out = "children";
    for (pid_t p : g_churn.kids) out += " " + std::to_string(p);
    std::fprintf(stderr, "nk-test-agent: %u forks\n", g_churn.forks);
    return out;
}

std::string check_children() {
    ::close(g_churn.ctl[1]);
    std::size_t want = g_churn.kids.size();
    std::string text, bad, first;
    std::size_t got = 0, ok = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (got < want && std::chrono::steady_clock::now() < deadline) {
        pollfd p{g_churn.res[0], POLLIN, 200};
        if (::poll(&p, 1, 200) <= 0) continue;
        char buf[4096];
        ssize_t n = ::read(g_churn.res[0], buf, sizeof buf);
        if (n <= 0) continue;
        text.append(buf, static_cast<std::size_t>(n));
        std::size_t nl;
        while ((nl = text.find('\n')) != std::string::npos) {
            std::string line = text.substr(0, nl);
            text.erase(0, nl + 1);
            ++got;
            bool good = line.find(" ok ") != std::string::npos;
            if (good && ++ok == 1) first = line;
            if (!good) bad += (bad.empty() ? "" : " | ") + line;
        }
    }
    for (pid_t p : g_churn.kids) reap(p);
    g_churn.kids.clear();
    for (int fd : {g_churn.ctl[0], g_churn.res[0], g_churn.res[1]}) ::close(fd);
    if (ok == want && want > 0)
        return "ok " + std::to_string(want) + " children match the rule, e.g. pid " + first;
    return "fail " + std::to_string(ok) + " of " + std::to_string(want) + " children match (" +
           std::to_string(got) + " answered): " + bad;
}

// --- threads with their own task policies (threads) ------------------------------

struct TaskThread {
    std::thread thread;
    bool inherit = false;  // no request of its own: the main thread's policy at clone
    Request req;
    Nodemask m_at;  // Mems_allowed when it made its request
    std::string result;
    int set_errno = 0;
};
std::mutex g_tmu;
std::condition_variable g_tcv;
unsigned g_tepoch = 0;
unsigned g_tanswers = 0;
bool g_tquit = false;
std::vector<std::unique_ptr<TaskThread>> g_threads;

// Thread i's request under mems M: four modes, over all of M for i % 8 < 4,
// over its upper half for the others; preferred takes M's first or last node.
Request thread_request(unsigned i, const Nodemask& m) {
    std::vector<unsigned> nodes;
    for (unsigned n = 0; n < kMaxNodes; ++n)
        if (m.test(n)) nodes.push_back(n);
    const Mode modes[] = {Mode::Interleave, Mode::Bind, Mode::Preferred, Mode::PreferredMany};
    Mode mode = modes[i % 4];
    bool upper = i % 8 >= 4;
    Nodemask set;
    if (mode == Mode::Preferred) {
        set.set(upper ? nodes.back() : nodes.front());
    } else {
        for (std::size_t k = upper ? nodes.size() / 2 : 0; k < nodes.size(); ++k) set.set(nodes[k]);
    }
    return make(mode, set);
}

void thread_body(TaskThread* t) {
    if (!t->inherit) {
        t->m_at = mems_allowed();
        if (request_set_mempolicy(static_cast<int>(t->req.mode), t->req.nodes) != 0)
            t->set_errno = errno;
    }
    unsigned seen = 0;
    std::unique_lock lock(g_tmu);
    for (;;) {
        // The runtime's rebind signal wakes the wait early: the predicate
        // sends it back to sleep.
        g_tcv.wait(lock, [&] { return g_tquit || g_tepoch != seen; });
        if (g_tquit) return;
        seen = g_tepoch;
        lock.unlock();
        Nodemask now = mems_allowed();
        PolicyReadback want =
            t->inherit ? rule_now(g_task, g_m0, now) : rule_now(t->req, t->m_at, now);
        auto got = thread_policy();
        std::string what =
            t->inherit
                ? "inherited"
                : "own " + to_string(PolicyReadback{t->req.mode, t->req.flags, t->req.nodes}) +
                      " under " + t->m_at.to_string();
        std::string r = got && *got == want ? "ok"
                                            : "fail (" + what + ") holds " + describe(got) +
                                                  ", rule gives " + to_string(want);
        if (t->set_errno) r = "fail set_mempolicy: " + std::string(std::strerror(t->set_errno));
        lock.lock();
        t->result = r;
        ++g_tanswers;
        g_tcv.notify_all();
    }
}

std::string start_threads(unsigned n, bool inherit) {
    Nodemask now = mems_allowed();
    for (unsigned i = 0; i < n; ++i) {
        auto t = std::make_unique<TaskThread>();
        t->inherit = inherit;
        t->req = thread_request(static_cast<unsigned>(g_threads.size()), now);
        t->thread = std::thread(thread_body, t.get());
        g_threads.push_back(std::move(t));
    }
    return "threads " + std::to_string(g_threads.size());
}

std::string check_threads() {
    std::unique_lock lock(g_tmu);
    ++g_tepoch;
    g_tanswers = 0;
    g_tcv.notify_all();
    bool all = g_tcv.wait_for(lock, std::chrono::seconds(10),
                              [] { return g_tanswers == g_threads.size(); });
    std::string bad;
    unsigned ok = 0, own = 0;
    for (std::size_t i = 0; i < g_threads.size(); ++i) {
        const auto& t = *g_threads[i];
        if (!t.inherit) ++own;
        if (t.result == "ok")
            ++ok;
        else
            bad += (bad.empty() ? "" : "; ") + std::string("thread ") + std::to_string(i) + " " +
                   (t.result.empty() ? "did not answer" : t.result);
        g_threads[i]->result.clear();
    }
    std::string main = describe(thread_policy());
    if (all && ok == g_threads.size())
        return "ok " + std::to_string(ok) + " threads (" + std::to_string(own) +
               " own requests) match the rule; main thread " + main;
    return "fail " + std::to_string(ok) + " of " + std::to_string(g_threads.size()) +
           " threads match: " + bad;
}

void stop_threads() {
    {
        std::lock_guard lock(g_tmu);
        g_tquit = true;
        g_tcv.notify_all();
    }
    for (auto& t : g_threads) t->thread.join();
    g_threads.clear();
}

// One command of the --preload loop; false: quit.
bool preload_command(const std::string& cmd) {
    std::istringstream in(cmd);
    std::string word, arg;
    in >> word >> arg;
    std::string reply;
    if (word == "quit") {
        for (pid_t p : g_churn.kids) ::kill(p, SIGKILL);
        for (pid_t p : g_churn.kids) reap(p);
        stop_threads();
        return false;
    }
    if (word == "check")
        reply = check();
    else if (word == "churn-start")
        reply = churn_start(std::atoi(arg.c_str()));
    else if (word == "churn-stop")
        reply = churn_stop();
    else if (word == "check-children")
        reply = check_children();
    else if (word == "threads") {
        std::string mode;
        in >> mode;
        reply = start_threads(static_cast<unsigned>(std::atoi(arg.c_str())), mode == "inherit");
    } else if (word == "check-threads")
        reply = check_threads();
    else
        reply = "error unknown command " + word;
    std::printf("%s\n", reply.c_str());
    return true;
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
            pollfd p{0, POLLIN, 0};
            int r = ::poll(&p, 1, g_churn.on ? g_churn.interval_ms : -1);
            if (r == 0) {
                churn_fork();
                continue;
            }
            if (r < 0) continue;  // EINTR: the runtime's thread rebind signal
            ssize_t n = ::read(0, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return 0;
            in.append(buf, static_cast<std::size_t>(n));
            std::size_t nl;
            while ((nl = in.find('\n')) != std::string::npos) {
                std::string cmd = in.substr(0, nl);
                in.erase(0, nl + 1);
                if (!preload_command(cmd)) return 0;
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
