// SPDX-License-Identifier: MIT
// Fault injection against numakeepd in the 4-node guest:
//
//   nk-faults-vm sigkill-rebind AGENTS ROUNDS
//     AGENTS programs in one cgroup; each round writes a random cpuset.mems,
//     waits a random 0-40 ms (the daemon is mid-rebind), kills numakeepd
//     with SIGKILL, starts it again, and checks that every program
//     re-registered, converged, holds the rule's policies ("check" of
//     nk-test-agent) and is still alive.
//   agent-kill-leak KILLS
//     programs started and killed with SIGKILL right after a mems write,
//     KILLS times; numakeepd's descriptor count, anonymous RSS and inotify watches
//     must stay flat.
//   emfile
//     numakeepd's RLIMIT_NOFILE lowered (prlimit) to 40 above what it
//     uses, then a flood of connections: the flood is refused, the daemon
//     does not spin, a registered program still converges on the rule's
//     policies after a mems write, a CLI query on a connection opened
//     before is answered; with the limit back and the flood gone, a new
//     program registers and converges.
//
// Uses the daemon cases' harness (tests/common/vm_harness.hpp): its
// private daemon, its nk-test-agent programs (NK_AGENT=preload: the real
// libnumakeep.so does the rebinds).
#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "guest.hpp"
#include "vm_harness.hpp"

using namespace numakeep;
using namespace numakeep::guest;
using namespace numakeep::vmtest;

namespace {

Report g_report;

bool converged(const std::vector<std::unique_ptr<Agent>>& agents) {
    auto procs = list_processes();
    for (auto& a : agents) {
        auto it = procs.find(a->pid());
        if (it == procs.end()) return false;
        if (it->second.rebind_pending ||
            it->second.generation_applied != it->second.generation_current)
            return false;
    }
    return true;
}

long daemon_fds(pid_t pid) {
    std::string dir = "/proc/" + std::to_string(pid) + "/fd";
    DIR* d = ::opendir(dir.c_str());
    if (!d) return -1;
    long n = 0;
    while (dirent* e = ::readdir(d))
        if (e->d_name[0] != '.') ++n;
    ::closedir(d);
    return n;
}

// Inotify watches numakeepd holds: one "inotify wd:" line per watch in the
// fdinfo of its inotify descriptors (fs/notify/fdinfo.c).
long daemon_watches(pid_t pid) {
    std::string dir = "/proc/" + std::to_string(pid) + "/fd";
    DIR* d = ::opendir(dir.c_str());
    if (!d) return -1;
    long n = 0;
    while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] == '.') continue;
        char target[64] = {};
        if (::readlink((dir + "/" + e->d_name).c_str(), target, sizeof target - 1) <= 0) continue;
        if (std::string(target) != "anon_inode:inotify") continue;
        auto info = read_file("/proc/" + std::to_string(pid) + "/fdinfo/" + e->d_name);
        for (std::size_t at = info ? info->find("inotify wd:") : std::string::npos;
             at != std::string::npos; at = info->find("inotify wd:", at + 1))
            ++n;
    }
    ::closedir(d);
    return n;
}

Nodemask random_mems(std::mt19937& rng) {
    Nodemask m;
    while (m.empty())
        for (unsigned n = 0; n < 4; ++n)
            if (rng() & 1U) m.set(n);
    return m;
}

int sigkill_rebind(int nagents, int rounds) {
    Daemon d;
    d.start();
    Cgroup cg("nk-faults", Nodemask::range(0, 3));
    if (int err = move_pid(cg.path()); err) die("move driver", err);
    std::vector<std::unique_ptr<Agent>> agents;
    for (int i = 0; i < nagents; ++i) agents.push_back(std::make_unique<Agent>("", 8));
    if (int err = move_pid(kCgroupRoot); err) die("move driver back", err);
    std::printf("%d programs registered\n", nagents);
    std::mt19937 rng(20261125);
    int survived = 0;
    for (int r = 1; r <= rounds; ++r) {
        Nodemask mems = random_mems(rng);
        int delay_ms = static_cast<int>(rng() % 41);
        cg.set_mems(mems);
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
        d.kill(SIGKILL);
        d.start();
        bool ok = wait_until([&] { return converged(agents); }, std::chrono::milliseconds(30000));
        bool all_ok = ok;
        for (auto& a : agents) {
            bool alive = ::kill(a->pid(), 0) == 0;
            std::string answer = alive ? a->ask("check") : "dead";
            bool good = answer.rfind("ok", 0) == 0;
            if (!good) g_report.check(false, "round %d: pid %d %s", r, a->pid(), answer.c_str());
            all_ok = all_ok && good;
        }
        g_report.check(all_ok,
                       "round %d: mems %s, SIGKILL %d ms after the write: %d programs "
                       "converged on the rule's policies after the restart",
                       r, mems.to_string().c_str(), delay_ms, nagents);
        survived += all_ok;
    }
    std::printf("fault injections survived: %d of %d (%d programs)\n", survived, rounds, nagents);
    return g_report.finish();
}

int agent_kill_leak(int kills) {
    Daemon d;
    d.start();
    Cgroup cg("nk-faults-leak", Nodemask::range(0, 3));
    std::mt19937 rng(7);
    // Memory is the daemon's anonymous resident memory (RssAnon): its
    // heap and stacks, where a leak shows. Not VmRSS: that also counts the
    // pages of its code and libraries it has run so far, which grows by a
    // megabyte or two the first time the kills reach an error path (a reset
    // connection, a broken pipe, a log line) that nothing had reached before,
    // and then stays.
    long fds0 = 0, rss0 = 0, watches0 = 0;
    for (int i = 0; i < kills; ++i) {
        cg.set_mems(Nodemask::range(0, 3));  // nk-test-agent sets up its policies on 0-3
        if (int err = move_pid(cg.path()); err) die("move driver", err);
        pid_t victim;
        {
            Agent a("", 8);
            victim = a.pid();
            if (int err = move_pid(kCgroupRoot); err) die("move driver back", err);
            cg.set_mems(random_mems(rng));
            ::kill(victim, SIGKILL);  // mid-rebind; ~Agent reaps it
        }
        if ((i + 1) % 100 == 0)
            std::printf("%d kills: daemon %ld fds, %ld KiB anon RSS, %ld inotify watches\n", i + 1,
                        daemon_fds(d.pid()), proc_status_kib(d.pid(), "RssAnon"),
                        daemon_watches(d.pid()));
        if (i == kills / 10) {  // after warm-up: allocator pools and caches settled
            wait_until([&] { return list_processes().empty(); }, std::chrono::milliseconds(5000));
            // The daemon closes the query's own connection on its next turn.
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
            fds0 = daemon_fds(d.pid());
            rss0 = proc_status_kib(d.pid(), "RssAnon");
            watches0 = daemon_watches(d.pid());
            std::printf("after %d kills: %ld fds, %ld KiB anon RSS, %ld inotify watches\n", i + 1,
                        fds0, rss0, watches0);
        }
    }
    wait_until([&] { return list_processes().empty(); }, std::chrono::milliseconds(5000));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    long fds1 = daemon_fds(d.pid()), rss1 = proc_status_kib(d.pid(), "RssAnon");
    long watches1 = daemon_watches(d.pid());
    g_report.check(list_processes().empty(), "no killed program left registered");
    // A leak grows the table; the baseline may still hold a connection the
    // daemon had not yet closed (seen: 13 -> 12), so fewer is fine.
    g_report.check(fds1 <= fds0, "daemon descriptors flat over %d kills: %ld -> %ld", kills, fds0,
                   fds1);
    g_report.check(rss1 <= rss0 + 512, "daemon anonymous RSS flat over %d kills: %ld -> %ld KiB",
                   kills, rss0, rss1);
    g_report.check(watches0 >= 0 && watches1 <= watches0,
                   "daemon inotify watches flat over %d kills: %ld -> %ld", kills, watches0,
                   watches1);
    std::printf(
        "program kills survived: %d; daemon fds %ld -> %ld, anon RSS %ld -> %ld KiB, "
        "watches %ld -> %ld\n",
        kills, fds0, fds1, rss0, rss1, watches0, watches1);
    return g_report.finish();
}

// Every process on `cli`, a connection opened before the flood.
std::map<int, proto::ProcEntry> list_on(WireClient& cli) {
    std::map<int, proto::ProcEntry> out;
    if (!cli.send(proto::MsgType::QueryList, proto::Empty{})) return out;
    for (;;) {
        auto f = cli.recv(2000);
        if (!f || f->type() != proto::MsgType::ProcEntry) return out;
        auto e = f->as<proto::ProcEntry>();
        out[e.pid] = e;
    }
}

bool converged_on(WireClient& cli, pid_t pid) {
    auto procs = list_on(cli);
    auto it = procs.find(pid);
    return it != procs.end() && !it->second.rebind_pending &&
           it->second.generation_applied == it->second.generation_current;
}

int raw_connect() {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", kSocket);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

int emfile() {
    Daemon d;
    d.start();
    Cgroup cg("nk-faults-emfile", Nodemask::range(0, 3));
    if (int err = move_pid(cg.path()); err) die("move driver", err);
    auto agent = std::make_unique<Agent>("", 8);
    WireClient cli(kSocket);
    if (int err = move_pid(kCgroupRoot); err) die("move driver back", err);
    g_report.check(cli.connected() && converged_on(cli, agent->pid()),
                   "a program registered, a CLI connection open");

    rlimit before{};
    ::prlimit(d.pid(), RLIMIT_NOFILE, nullptr, &before);
    long used = daemon_fds(d.pid());
    rlimit low = before;
    low.rlim_cur = static_cast<rlim_t>(used + 40);
    if (::prlimit(d.pid(), RLIMIT_NOFILE, &low, nullptr) != 0) die("prlimit");
    std::vector<int> flood;
    for (int i = 0; i < 150; ++i)
        if (int fd = raw_connect(); fd >= 0) flood.push_back(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    int refused = 0;
    for (int fd : flood) {
        char c;
        if (::recv(fd, &c, 1, MSG_DONTWAIT) == 0) ++refused;
    }
    g_report.check(refused > 0,
                   "flood of %zu connections with %ld fds in use, soft limit %lu: "
                   "%d refused",
                   flood.size(), used, static_cast<unsigned long>(low.rlim_cur), refused);
    long t0 = cpu_ticks(d.pid());
    std::this_thread::sleep_for(std::chrono::milliseconds(2000));
    long spent = cpu_ticks(d.pid()) - t0;
    g_report.check(spent >= 0 && spent < ::sysconf(_SC_CLK_TCK) / 2,
                   "the daemon does not spin while refusing: %ld ticks in 2 s", spent);

    Nodemask mems = Nodemask::range(1, 2);
    cg.set_mems(mems);
    // Converged on the new mems, not on the old ones: the daemon may not
    // have read the write yet, so the program's own check is waited for too.
    std::string answer;
    bool ok = wait_until(
        [&] {
            return converged_on(cli, agent->pid()) &&
                   (answer = agent->ask("check")).rfind("ok", 0) == 0;
        },
        std::chrono::milliseconds(20000));
    g_report.check(ok && answer.rfind("ok", 0) == 0,
                   "out of descriptors: the registered program converged on mems %s (%s), "
                   "answered on the CLI connection opened before",
                   mems.to_string().c_str(), answer.c_str());

    ::prlimit(d.pid(), RLIMIT_NOFILE, &before, nullptr);
    for (int fd : flood) ::close(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    cg.set_mems(Nodemask::range(0, 3));
    if (int err = move_pid(cg.path()); err) die("move driver", err);
    auto second = std::make_unique<Agent>("", 8);  // registers on a new connection
    if (int err = move_pid(kCgroupRoot); err) die("move driver back", err);
    Nodemask ends;
    ends.set(0);
    ends.set(3);
    cg.set_mems(ends);
    std::string first;
    ok = wait_until(
        [&] {
            return converged_on(cli, second->pid()) && converged_on(cli, agent->pid()) &&
                   (answer = second->ask("check")).rfind("ok", 0) == 0 &&
                   (first = agent->ask("check")).rfind("ok", 0) == 0;
        },
        std::chrono::milliseconds(20000));
    g_report.check(ok && answer.rfind("ok", 0) == 0 && first.rfind("ok", 0) == 0,
                   "recovered: a new program registered and both converged on 0,3 (%s / %s)",
                   answer.c_str(), first.c_str());
    g_report.check(::kill(d.pid(), 0) == 0, "numakeepd still running");
    return g_report.finish();
}

}  // namespace

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    ::signal(SIGPIPE, SIG_IGN);
    std::string c = argc > 1 ? argv[1] : "";
    int rc = 2;
    if (c == "sigkill-rebind" && argc == 4)
        rc = sigkill_rebind(std::atoi(argv[2]), std::atoi(argv[3]));
    else if (c == "agent-kill-leak" && argc == 3)
        rc = agent_kill_leak(std::atoi(argv[2]));
    else if (c == "emfile" && argc == 2)
        rc = emfile();
    else
        std::fprintf(stderr,
                     "usage: nk-faults-vm sigkill-rebind AGENTS ROUNDS | agent-kill-leak KILLS | "
                     "emfile\n");
    if (rc == 1) {
        std::printf("--- numakeepd log ---\n");
        if (auto log = read_file(kLog)) std::fputs(log->c_str(), stdout);
    }
    return rc;
}
