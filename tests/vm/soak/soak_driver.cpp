// SPDX-License-Identifier: MIT
// nk-soak-driver: the soak's driver, in C++ so that it costs the
// emulated guest no fork per step (the shell driver it replaces managed 6
// mems writes a minute with 20 churning processes).
//
//   nk-soak-driver SECONDS PROCESSES INTERVAL_MS PAUSE_MS DAEMON_PID
//
// Starts PROCESSES nk-soak-churn (PAUSE_MS between their churn steps)
// under $NUMAKEEP_PRELOAD, spread over the five cgroups nk-soak-0..4, then
// for SECONDS writes a random cpuset.mems to one of them and moves a
// random process to one of them, at most every INTERVAL_MS (a write
// returns once the kernel migrated the cgroup's memory, so the kernel
// sets the pace). Then it sends SIGUSR1 to every process, waits for each
// to print its counts and "quiet" (/tmp/soak-out-PID), sets every cgroup
// back to 0-3 and prints:
//   soak-pids PID...
//   mems writes N, moves M
//   numakeepd RSS A -> B KiB   (A: after a tenth of the soak, warm; B: at the end)
// and exits 0; the caller (soak.sh) checks the records against the kernel.
// It runs at nice -10: the churn (nice 15) must not starve it.
//
// Every mems set it writes holds node 0, and the code the processes share
// (the program, libnumakeep.so, libnuma, libstdc++, libc) is put on node 0
// before the soak: on cgroup v2 a mems write or a move migrates every page
// of every process involved (cpuset_migrate_mm -> do_migrate_pages with
// MPOL_MF_MOVE_ALL), and a shared page mapped by 50 processes costs an
// rmap walk over all of them. Measured in the emulated guest, writes over
// all 15 sets left one write's migration running for minutes
// (rmap_walk_file). do_migrate_pages never moves a node that is in both
// the old and the new mems at the same position, and node 0 always is.
// Each migrated process still costs an expedited RCU grace period and an
// LRU drain on every CPU (lru_cache_disable), which is why the processes
// are spread over five cgroups: a write migrates a fifth of them.
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "guest.hpp"

using namespace numakeep;
using namespace numakeep::guest;

namespace {

constexpr int kGroups = 5;

std::string group(int i) {
    return std::string(kCgroupRoot) + "/nk-soak-" + std::to_string(i);
}

pid_t start_churn(const std::string& cgroup, const std::string& pause_ms) {
    pid_t pid = ::fork();
    if (pid == 0) {
        if (move_pid(cgroup) != 0) ::_exit(126);
        std::string out = "/tmp/soak-out-" + std::to_string(::getpid());
        if (!std::freopen(out.c_str(), "w", stdout)) ::_exit(126);
        const char* lib = std::getenv("NUMAKEEP_PRELOAD");
        ::setenv("LD_PRELOAD", lib ? lib : "/usr/local/lib/numakeep/libnumakeep.so", 1);
        ::execlp("nk-soak-churn", "nk-soak-churn", pause_ms.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    return pid;
}

// A random set of nodes 0-3 that holds node 0 (see above).
Nodemask random_mems(std::mt19937& rng) {
    Nodemask m;
    m.set(0);
    for (unsigned n = 1; n < 4; ++n)
        if (rng() & 1U) m.set(n);
    return m;
}

}  // namespace

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    if (argc != 6) {
        std::fprintf(stderr,
                     "usage: nk-soak-driver SECONDS PROCESSES INTERVAL_MS PAUSE_MS DAEMON_PID\n");
        return 2;
    }
    int secs = std::atoi(argv[1]), nprocs = std::atoi(argv[2]);
    int interval_ms = std::atoi(argv[3]);
    pid_t daemon = std::atoi(argv[5]);
    ::setpriority(PRIO_PROCESS, 0, -10);
    for (int g = 0; g < kGroups; ++g) {
        if (::mkdir(group(g).c_str(), 0755) != 0 && errno != EEXIST) die(group(g).c_str());
        if (int err = write_mems(group(g), Nodemask::range(0, 3)); err) die(group(g).c_str(), err);
    }
    // The first process maps the shared code; mems 0 moves it to node 0.
    std::vector<pid_t> pids;
    pids.push_back(start_churn(group(0), argv[4]));
    std::this_thread::sleep_for(std::chrono::seconds(2));
    write_mems(group(0), Nodemask::range(0, 0));
    write_mems(group(0), Nodemask::range(0, 3));
    for (int i = 1; i < nprocs; ++i) pids.push_back(start_churn(group(i % kGroups), argv[4]));
    std::this_thread::sleep_for(std::chrono::seconds(3));
    std::printf(
        "%d processes churning in %d cgroups; soaking %d s, a mems write and a move "
        "at most every %d ms\n",
        nprocs, kGroups, secs, interval_ms);

    std::mt19937 rng(static_cast<unsigned>(::getpid()));
    long writes = 0, moves = 0, rss0 = -1;
    auto start = std::chrono::steady_clock::now();
    auto warm = start + std::chrono::milliseconds(secs * 100);
    auto end = start + std::chrono::seconds(secs);
    auto report = start + std::chrono::seconds(secs >= 300 ? 60 : 15);
    auto next = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() < end) {
        if (write_mems(group(static_cast<int>(rng() % kGroups)), random_mems(rng)) == 0) ++writes;
        if (move_pid(group(static_cast<int>(rng() % kGroups)), pids[rng() % pids.size()]) == 0)
            ++moves;
        auto now = std::chrono::steady_clock::now();
        if (now >= report) {
            std::printf("%lld s: %ld mems writes, %ld moves\n",
                        static_cast<long long>(
                            std::chrono::duration_cast<std::chrono::seconds>(now - start).count()),
                        writes, moves);
            report = now + std::chrono::seconds(secs >= 300 ? 60 : 15);
        }
        if (rss0 < 0 && std::chrono::steady_clock::now() >= warm)
            rss0 = proc_status_kib(daemon, "VmRSS");
        next += std::chrono::milliseconds(interval_ms);
        std::this_thread::sleep_until(next);
        if (next < std::chrono::steady_clock::now()) next = std::chrono::steady_clock::now();
    }

    long rss1 = proc_status_kib(daemon, "VmRSS");
    std::printf("soaked: %ld mems writes, %ld moves; quieting the processes\n", writes, moves);
    for (pid_t p : pids) ::kill(p, SIGUSR1);
    for (pid_t p : pids) {
        std::string out = "/tmp/soak-out-" + std::to_string(p);
        wait_until(
            [&] {
                auto text = read_file(out);
                return (text && text->find("quiet") != std::string::npos) || ::kill(p, 0) != 0;
            },
            std::chrono::milliseconds(30000));
    }
    for (int g = 0; g < kGroups; ++g) write_mems(group(g), Nodemask::range(0, 3));
    std::printf("soak-pids");
    for (pid_t p : pids) std::printf(" %d", p);
    std::printf("\nmems writes %ld, moves %ld\n", writes, moves);
    std::printf("numakeepd RSS %ld -> %ld KiB\n", rss0, rss1);
    return 0;
}
