// SPDX-License-Identifier: MIT
// nk-bench-vm: the daemon's figures of `tools/bench vm`, all from one guest
// run. Prints `NAME VALUE UNIT` lines:
//   vm.bare_mbind_100x1000_ms  100 x 1,000 mbind calls in a plain loop in
//                              one process: the floor
//   vm.rebind_100x1000_ms      write to cpuset.mems -> all 100 programs
//                              under the real libnumakeep.so (1,000
//                              distinct non-adjacent one-page ranges each)
//                              have reported to numakeepd (median)
//   vm.rebind_vs_bare          the first over the second
//   vm.rebind_standin_100x1000_ms, vm.rebind_standin_vs_bare
//                              the same with nk-test-agent, which plays the
//                              agent itself (one mbind per range, no check)
//   vm.kernel_write_ms         the write(2) to cpuset.mems itself (median)
//   vm.event_to_command_ms     write returned -> first process received its
//                              command (median; nk-test-agent prints when)
//   vm.daemon_idle_cpu_pct     numakeepd's CPU over 10 s with 1,000 idle
//                              registered processes
//   vm.rebinds_per_write       Rebind commands numakeepd sent (its
//                              rebinds_requested counter) over processes x
//                              writes, both phases of timed writes: every
//                              write is a real change, so 1.00; more means
//                              the several file events of one write made
//                              more than one rebind
//
// Where the rebind clock starts: when the write returns, not when it
// starts. On cgroup v2 a write to cpuset.mems always migrates the pages of
// every task (CS_MEMORY_MIGRATE is set on the default hierarchy), and the
// write waits for it (cpuset_write_resmask() flushes
// cpuset_migrate_mm_wq): a write that shrinks the mems of 100 programs
// takes seconds in the guest, a write that grows them under one. That is
// the kernel's own work, reported as vm.kernel_write_ms, and no rebind can
// start before the write's own event. (numakeepd's reconcile may see a
// task's Mems_allowed change while the write is still migrating and start
// early; such a command counts 0 ms in vm.event_to_command_ms, and the
// rebind work it did during the write is not counted.)
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "guest.hpp"
#include "vm_harness.hpp"

using namespace numakeep;
using namespace numakeep::guest;
using namespace numakeep::vmtest;

namespace {

int kProcesses = 100;  // NK_BENCH_PROCESSES overrides, for a quick look
constexpr unsigned kRanges = 1000;
int kWrites = 6;
constexpr int kIdleProcesses = 1000;

std::int64_t now_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

// 1,000 one-page ranges with a gap between each, re-issued 100 times.
double bare_mbind_ms() {
    const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    Mapping m(page * 2 * kRanges);
    auto* base = static_cast<char*>(m.data());
    const Nodemask sets[] = {Nodemask::range(0, 1), Nodemask::range(0, 3)};
    for (unsigned i = 0; i < kRanges; ++i)
        if (sys_mbind(base + 2 * i * page, page, 3, sets[1]) != 0) die("mbind");
    std::int64_t t0 = now_ns();
    for (int round = 0; round < kProcesses; ++round)
        for (unsigned i = 0; i < kRanges; ++i)
            sys_mbind(base + 2 * i * page, page, i % 2 ? 2 : 3, sets[round % 2]);
    return static_cast<double>(now_ns() - t0) / 1e6;
}

struct Times {
    std::int64_t first_recv = 0;
    std::int64_t last_done = 0;
    int done = 0;
};

// Reads every "recv G T" / "done G T" line the agents printed so far.
void drain(const std::vector<std::unique_ptr<Agent>>& agents, std::uint64_t after, Times& t) {
    for (const auto& a : agents) {
        for (;;) {
            pollfd p{a->output_fd(), POLLIN, 0};
            if (::poll(&p, 1, 0) <= 0) break;
            std::string l = a->line();
            unsigned long long gen = 0;
            long long ns = 0;
            char what[8] = {};
            if (std::sscanf(l.c_str(), "%7s %llu %lld", what, &gen, &ns) != 3 || gen <= after)
                continue;
            if (std::string(what) == "recv" && (t.first_recv == 0 || ns < t.first_recv))
                t.first_recv = ns;
            if (std::string(what) == "done") {
                ++t.done;
                t.last_done = std::max<std::int64_t>(t.last_done, ns);
            }
        }
    }
}

std::uint64_t max_generation();
bool all_current(std::size_t n);
std::vector<double> g_write_ms;         // every write of both phases
std::uint64_t g_process_writes = 0;     // processes x writes, both phases
std::uint64_t g_rebinds_requested = 0;  // the daemon's count over the same writes

// Counts what the daemon requested over one phase of writes, from the
// first write to the time every answer is in and the last write's late
// file events have come (the watcher may report one write twice).
struct RequestedRebinds {
    RequestedRebinds(int processes, int writes)
        : expected(static_cast<std::uint64_t>(processes) * static_cast<std::uint64_t>(writes)),
          before(daemon_status().rebinds_requested) {}
    ~RequestedRebinds() {
        std::this_thread::sleep_for(std::chrono::seconds(1));
        std::uint64_t requested = daemon_status().rebinds_requested - before;
        // On stdout: stderr is another serial port, and a line there can
        // land inside a figure's line.
        std::printf("rebinds requested %llu for %llu process writes\n",
                    static_cast<unsigned long long>(requested),
                    static_cast<unsigned long long>(expected));
        g_rebinds_requested += requested;
        g_process_writes += expected;
    }
    RequestedRebinds(const RequestedRebinds&) = delete;
    RequestedRebinds& operator=(const RequestedRebinds&) = delete;
    std::uint64_t expected;
    std::uint64_t before;
};

// The driver at nice -20 while it times writes: 100 busy programs must not
// delay the clock reads around the write (that made kernel_write_ms look
// like seconds, and a first command arrive "before" the write returned).
// Set after the programs are forked, since children inherit it.
struct Urgent {
    Urgent() { ::setpriority(PRIO_PROCESS, 0, -20); }
    ~Urgent() { ::setpriority(PRIO_PROCESS, 0, 0); }
    Urgent(const Urgent&) = delete;
    Urgent& operator=(const Urgent&) = delete;
};

std::int64_t unix_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// The same writes with programs under the real libnumakeep.so: its agent
// answers, so "reported" is when numakeepd took each RebindDone in
// (last_rebind_unix_ms, CLOCK_REALTIME). Returns the median over the writes;
// `in_process` gets the median of the slowest process's own rebind time,
// `with_write` the median from the write's start (the wording).
double preload_rebind_ms(const Cgroup& cg, double& in_process, double& with_write) {
    std::vector<double> from_start;
    ::setenv("NK_AGENT", "preload", 1);
    std::vector<std::unique_ptr<Agent>> agents;
    if (int err = move_pid(cg.path()); err) die("move driver", err);
    for (int i = 0; i < kProcesses; ++i)
        agents.push_back(std::make_unique<Agent>("", kRanges, false, false));
    for (auto& a : agents) a->await_ready();
    if (int err = move_pid(kCgroupRoot); err) die("move driver back", err);
    ::unsetenv("NK_AGENT");
    // Their first rebinds (each registered with records) are not the writes'.
    if (!wait_until([] { return all_current(kProcesses); }, std::chrono::milliseconds(120000)))
        die("the programs under libnumakeep.so did not all register", ETIMEDOUT);
    Urgent urgent;
    std::vector<double> rebind, slowest;
    int writes = kWrites > 4 ? 4 : kWrites;  // inside tests/bench/vm.sh's guest timeout
    if (const char* n = std::getenv("NK_BENCH_PRELOAD_WRITES")) writes = std::atoi(n);
    RequestedRebinds requested(kProcesses, writes);
    for (int w = 0; w < writes; ++w) {
        std::uint64_t before = max_generation();
        Nodemask mems = w % 2 ? Nodemask::range(0, 3) : Nodemask::range(0, 1);
        std::int64_t start = unix_ns();
        cg.set_mems(mems);
        std::int64_t t0 = unix_ns();  // the write returned
        std::map<int, proto::ProcEntry> procs;
        bool ok = wait_until(
            [&] {
                procs = list_processes();
                if (procs.size() < static_cast<std::size_t>(kProcesses)) return false;
                for (const auto& [pid, e] : procs)
                    if (e.rebind_pending || e.generation_applied <= before) return false;
                return true;
            },
            std::chrono::milliseconds(120000));
        if (!ok) die("the programs under libnumakeep.so did not all answer", ETIMEDOUT);
        std::int64_t last_ms = 0;
        double worst = 0;
        for (const auto& [pid, e] : procs) {
            last_ms = std::max<std::int64_t>(last_ms, e.last_rebind_unix_ms);
            worst = std::max(worst, static_cast<double>(e.last.duration_ns) / 1e6);
        }
        // Every program may have reported before the write returned (the
        // reconcile saw Mems_allowed change mid-write): 0 ms after it.
        rebind.push_back(
            std::max(0.0, static_cast<double>(last_ms) - static_cast<double>(t0) / 1e6));
        from_start.push_back(static_cast<double>(last_ms) - static_cast<double>(start) / 1e6);
        slowest.push_back(worst);
        g_write_ms.push_back(static_cast<double>(t0 - start) / 1e6);
        std::fprintf(stderr,
                     "libnumakeep.so write %d (%s): write %.1f ms, then rebind %.1f ms, slowest "
                     "process %.1f ms in itself\n",
                     w, mems.to_string().c_str(), g_write_ms.back(), rebind.back(), worst);
    }
    in_process = median(slowest);
    with_write = median(from_start);
    return median(rebind);
}

std::uint64_t max_generation() {
    std::uint64_t g = 0;
    for (const auto& [pid, e] : list_processes()) g = std::max(g, e.generation_current);
    return g;
}

bool all_current(std::size_t n) {
    auto procs = list_processes();
    if (procs.size() < n) return false;
    for (const auto& [pid, e] : procs)
        if (e.rebind_pending) return false;
    return true;
}

// A child that registers with nothing recorded and waits.
pid_t idle_client() {
    pid_t pid = ::fork();
    if (pid != 0) return pid;
    WireClient c(kSocket);
    proto::Hello h;
    h.pid = ::getpid();
    h.start_time = testing::self_start_time();
    h.mems = mems_allowed();
    c.send(proto::MsgType::Hello, h);
    c.recv(30000);
    for (;;) ::pause();
}

}  // namespace

int main() {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    ::signal(SIGPIPE, SIG_IGN);
    if (const char* n = std::getenv("NK_BENCH_PROCESSES")) kProcesses = std::atoi(n);
    if (const char* n = std::getenv("NK_BENCH_WRITES")) kWrites = std::atoi(n);
    const char* level = std::getenv("NK_BENCH_LOG_LEVEL");
    if (FILE* f = std::fopen(kConfig, "w")) {
        std::fprintf(f, "log_level = %s\n", level ? level : "warn");
        std::fclose(f);
    }
    double bare = bare_mbind_ms();
    std::printf("vm.bare_mbind_100x1000_ms %.1f ms\n", bare);

    Daemon d;
    d.start();
    Cgroup cg("nk-bench", Nodemask::range(0, 3));
    if (int err = move_pid(cg.path()); err) die("move driver", err);
    std::vector<std::unique_ptr<Agent>> agents;
    for (int i = 0; i < kProcesses; ++i)
        agents.push_back(std::make_unique<Agent>("", kRanges, true));
    if (int err = move_pid(kCgroupRoot); err) die("move driver back", err);
    if (!wait_until([] { return all_current(kProcesses); }, std::chrono::milliseconds(60000)))
        die("the agents did not register", ETIMEDOUT);
    Times ignored;
    drain(agents, 0, ignored);

    std::vector<double> rebind, write_ms, to_command;
    auto urgent = std::make_unique<Urgent>();
    auto requested = std::make_unique<RequestedRebinds>(kProcesses, kWrites);
    for (int w = 0; w < kWrites; ++w) {
        std::uint64_t before = max_generation();
        Nodemask mems = w % 2 ? Nodemask::range(0, 3) : Nodemask::range(0, 1);
        std::int64_t t0 = now_ns();
        cg.set_mems(mems);
        std::int64_t t1 = now_ns();
        Times t;
        bool ok = wait_until(
            [&] {
                drain(agents, before, t);
                return t.done >= kProcesses && all_current(kProcesses);
            },
            std::chrono::milliseconds(60000));
        if (!ok) die("the agents did not all answer", ETIMEDOUT);
        rebind.push_back(static_cast<double>(t.last_done - t1) / 1e6);
        write_ms.push_back(static_cast<double>(t1 - t0) / 1e6);
        g_write_ms.push_back(write_ms.back());
        // A command the reconcile sent while the write was still migrating
        // arrived before the write returned: it waited for nothing.
        to_command.push_back(std::max(0.0, static_cast<double>(t.first_recv - t1) / 1e6));
        std::fprintf(stderr,
                     "write %d (%s): rebind %.1f ms, write %.2f ms, to first command %.2f ms\n", w,
                     mems.to_string().c_str(), rebind.back(), write_ms.back(), to_command.back());
    }
    requested.reset();
    double r = median(rebind);
    std::printf("vm.rebind_standin_100x1000_ms %.1f ms\n", r);
    std::printf("vm.rebind_standin_vs_bare %.2f ratio\n", r / bare);
    std::printf("vm.event_to_command_ms %.2f ms\n", median(to_command));
    urgent.reset();
    agents.clear();

    double in_process = 0, with_write = 0;
    double preload = preload_rebind_ms(cg, in_process, with_write);
    std::printf("vm.rebind_100x1000_ms %.1f ms\n", preload);
    std::printf("vm.rebind_vs_bare %.2f ratio\n", preload / bare);
    std::printf("vm.rebind_slowest_process_ms %.1f ms\n", in_process);
    std::printf("vm.rebind_from_write_start_100x1000_ms %.1f ms\n", with_write);
    std::printf("vm.kernel_write_ms %.2f ms\n", median(g_write_ms));
    std::printf("vm.rebinds_per_write %.2f ratio\n",
                g_process_writes ? static_cast<double>(g_rebinds_requested) /
                                       static_cast<double>(g_process_writes)
                                 : 0.0);
    if (std::getenv("NK_BENCH_NO_IDLE")) return 0;

    std::vector<pid_t> idle;
    for (int i = 0; i < kIdleProcesses; ++i) idle.push_back(idle_client());
    if (!wait_until([] { return list_processes().size() >= kIdleProcesses; },
                    std::chrono::milliseconds(120000)))
        die("the idle processes did not register", ETIMEDOUT);
    std::this_thread::sleep_for(std::chrono::seconds(1));
    long c0 = cpu_ticks(d.pid());
    std::int64_t t0 = now_ns();
    std::this_thread::sleep_for(std::chrono::seconds(10));
    long c1 = cpu_ticks(d.pid());
    double secs = static_cast<double>(now_ns() - t0) / 1e9;
    double pct =
        100.0 * static_cast<double>(c1 - c0) / static_cast<double>(::sysconf(_SC_CLK_TCK)) / secs;
    std::printf("vm.daemon_idle_cpu_pct %.2f %%\n", pct);
    for (pid_t p : idle) ::kill(p, SIGKILL);
    for (pid_t p : idle) ::waitpid(p, nullptr, 0);
    return 0;
}
