// SPDX-License-Identifier: MIT
// nk-daemon-vm CASE: the daemon's guest cases. It starts a private
// numakeepd, creates cgroups, starts nk-test-agent processes inside them,
// writes cpuset.mems / cgroup.procs, waits until the daemon reports every
// process at the new generation (QueryList), and then asks each process to
// read its policies back from the kernel and compare them with
// rule(request, M0, Mems_allowed now).
//
// Cases: rebind-intent, ancestor-change, move-between-cgroups,
// stopped-process, daemon-restart; and, with programs under the real
// libnumakeep.so only (NK_AGENT=preload), fork-during-rebind, threads,
// many-processes.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "guest.hpp"
#include "numakeep/protocol.hpp"
#include "vm_harness.hpp"
#include "wire_client.hpp"

using namespace numakeep;
using namespace numakeep::guest;
using numakeep::testing::WireClient;
using namespace numakeep::vmtest;

namespace {

Report g_report;

using Generations = std::map<int, std::uint64_t>;

Generations generations(const std::vector<Agent*>& agents) {
    Generations g;
    auto procs = list_processes();
    for (auto* a : agents)
        g[a->pid()] = procs.count(a->pid()) ? procs[a->pid()].generation_current : 0;
    return g;
}

// Every agent listed, past its generation in `before`, and not pending.
bool converged(const std::vector<Agent*>& agents, const Generations& before) {
    auto procs = list_processes();
    for (auto* a : agents) {
        auto it = procs.find(a->pid());
        if (it == procs.end()) return false;
        const auto& e = it->second;
        auto b = before.find(a->pid());
        if (b != before.end() && e.generation_current <= b->second) return false;
        if (e.rebind_pending || e.generation_applied != e.generation_current) return false;
    }
    return true;
}

bool check_all(const std::vector<Agent*>& agents, const std::string& step) {
    bool all = true;
    for (auto* a : agents) {
        std::string answer = a->ask("check");
        bool ok = answer.rfind("ok", 0) == 0;
        g_report.check(ok, "%s: pid %d %s", step.c_str(), a->pid(), answer.c_str());
        all = all && ok;
    }
    return all;
}

// Writes mems, waits for convergence, checks every agent.
void step(const Cgroup& cg, const Nodemask& mems, const std::vector<Agent*>& agents,
          const std::string& label, int timeout_s = 8) {
    Generations before = generations(agents);
    auto t0 = std::chrono::steady_clock::now();
    cg.set_mems(mems);
    bool ok = wait_until([&] { return converged(agents, before); },
                         std::chrono::milliseconds(timeout_s * 1000));
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    g_report.check(ok, "%s: every process reported generation > before within %d s (%lld ms)",
                   label.c_str(), timeout_s, static_cast<long long>(ms));
    check_all(agents, label);
}

// Every pid registered, at one generation, applied and not pending.
bool pids_converged(const std::vector<int>& pids) {
    auto procs = list_processes();
    std::uint64_t gen = 0;
    for (int pid : pids) {
        auto it = procs.find(pid);
        if (it == procs.end()) return false;
        const auto& e = it->second;
        if (e.rebind_pending || e.generation_applied != e.generation_current) return false;
        if (gen && e.generation_current != gen) return false;
        gen = e.generation_current;
    }
    return true;
}

bool require_preload(const char* name) {
    const char* kind = std::getenv("NK_AGENT");
    if (kind && std::string(kind) == "preload") return true;
    std::printf("%s runs real programs under libnumakeep.so only: set NK_AGENT=preload\n", name);
    return false;
}

void write_config(const std::string& text) {
    if (FILE* f = std::fopen(kConfig, "w")) {
        std::fputs(text.c_str(), f);
        std::fclose(f);
    }
}

const std::vector<Nodemask> kSequence = {Nodemask::range(0, 1), Nodemask::range(0, 3),
                                         Nodemask::range(2, 3), Nodemask::range(0, 3),
                                         Nodemask{1},           Nodemask::range(0, 3)};

// --- cases -------------------------------------------------------------------

int rebind_intent() {
    Daemon d;
    d.start();
    // The DESIGN.md table for intent, in the order the agent prints.
    const char* intent_table[] = {
        "interleave interleave 0-1, bind bind 0-1, preferred preferred 1, preferred_many "
        "preferred_many 0-1",
        "interleave interleave 0-3, bind bind 0-3, preferred preferred 3, preferred_many "
        "preferred_many 2-3",
        "interleave interleave 2-3, bind bind 2-3, preferred preferred 3, preferred_many "
        "preferred_many 2-3",
        "interleave interleave 0-3, bind bind 0-3, preferred preferred 3, preferred_many "
        "preferred_many 2-3",
        "interleave interleave 1, bind bind 1, preferred preferred 1, preferred_many "
        "preferred_many 1",
        "interleave interleave 0-3, bind bind 0-3, preferred preferred 3, preferred_many "
        "preferred_many 2-3",
    };
    // Each semantics in its own cgroup, the agent started inside it.
    for (const char* sem : {"intent", "static", "relative"}) {
        Cgroup cg(std::string("nk-sem-") + sem, Nodemask::range(0, 3));
        if (int err = move_pid(cg.path()); err) die("move driver", err);
        auto agent = std::make_unique<Agent>(sem);
        if (int err = move_pid(kCgroupRoot); err) die("move driver back", err);
        std::vector<Agent*> agents{agent.get()};
        for (std::size_t i = 0; i < kSequence.size(); ++i) {
            std::string label = std::string(sem) + " mems " + kSequence[i].to_string();
            step(cg, kSequence[i], agents, label);
            if (std::string(sem) == "intent") {
                std::string answer = agent->ask("check");
                g_report.check(answer.find(intent_table[i]) != std::string::npos,
                               "%s matches DESIGN.md's intent table", label.c_str());
            }
        }
        agent.reset();
    }
    return g_report.finish();
}

int ancestor_change() {
    Daemon d;
    d.start();
    Cgroup a("nk-anc", Nodemask::range(0, 3));
    enable_cpuset(a.path());
    Cgroup b("b", Nodemask::range(0, 3), a.path());
    enable_cpuset(b.path());
    // c has no cpuset.mems of its own: it follows its ancestors.
    std::string c = b.path() + "/c";
    if (::mkdir(c.c_str(), 0755) != 0 && errno != EEXIST) die("mkdir c");
    if (int err = move_pid(c); err) die("move driver into c", err);
    auto agent = std::make_unique<Agent>();
    if (int err = move_pid(kCgroupRoot); err) die("move driver back", err);
    std::vector<Agent*> agents{agent.get()};
    // Only the grandparent is written: b's own 0-3 leaves it to a.
    for (const auto& m : kSequence) step(a, m, agents, "grandparent mems " + m.to_string());
    agent.reset();
    ::rmdir(c.c_str());
    return g_report.finish();
}

int move_between_cgroups() {
    Daemon d;
    d.start();
    Cgroup low("nk-move-low", Nodemask::range(0, 1));
    Cgroup high("nk-move-high", Nodemask::range(2, 3));
    Cgroup all("nk-move-all", Nodemask::range(0, 3));
    if (int err = move_pid(all.path()); err) die("move driver", err);
    auto agent = std::make_unique<Agent>();
    if (int err = move_pid(kCgroupRoot); err) die("move driver back", err);
    std::vector<Agent*> agents{agent.get()};
    for (const Cgroup* to : {&low, &high, &all, &high, &low, &all}) {
        Generations before = generations(agents);
        to->add(agent->pid());
        bool ok =
            wait_until([&] { return converged(agents, before); }, std::chrono::milliseconds(8000));
        g_report.check(ok, "moved to %s: rebound", to->path().c_str());
        check_all(agents, "in " + to->path());
    }
    agent.reset();
    return g_report.finish();
}

int stopped_process() {
    write_config("rebind_timeout_ms = 300\n");
    Daemon d;
    d.start();
    Cgroup cg("nk-stop", Nodemask::range(0, 3));
    if (int err = move_pid(cg.path()); err) die("move driver", err);
    std::vector<std::unique_ptr<Agent>> owned;
    for (int i = 0; i < 4; ++i) owned.push_back(std::make_unique<Agent>());
    if (int err = move_pid(kCgroupRoot); err) die("move driver back", err);
    std::vector<Agent*> all, running;
    for (auto& a : owned) all.push_back(a.get());
    running.assign(all.begin() + 1, all.end());
    Agent* stopped = all.front();
    ::kill(stopped->pid(), SIGSTOP);
    Generations before = generations(all);
    auto t0 = std::chrono::steady_clock::now();
    cg.set_mems(Nodemask::range(0, 1));
    bool ok =
        wait_until([&] { return converged(running, before); }, std::chrono::milliseconds(5000));
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    g_report.check(ok, "the %zu running processes converged in %lld ms with one stopped",
                   running.size(), static_cast<long long>(ms));
    auto procs = list_processes();
    g_report.check(procs[stopped->pid()].rebind_pending == 1, "the stopped process is pending");
    // A second write while it is still stopped.
    before = generations(all);
    cg.set_mems(Nodemask::range(2, 3));
    ok = wait_until([&] { return converged(running, before); }, std::chrono::milliseconds(5000));
    g_report.check(ok, "running processes converge on a second write too");
    check_all(running, "while one is stopped");
    ::kill(stopped->pid(), SIGCONT);
    ok = wait_until([&] { return converged(all, {}); }, std::chrono::milliseconds(5000));
    g_report.check(ok, "after SIGCONT the stopped process converges");
    check_all(all, "after SIGCONT");
    return g_report.finish();
}

int daemon_restart() {
    Daemon d;
    d.start();
    Cgroup cg("nk-restart", Nodemask::range(0, 3));
    if (int err = move_pid(cg.path()); err) die("move driver", err);
    std::vector<std::unique_ptr<Agent>> owned;
    for (int i = 0; i < 3; ++i) owned.push_back(std::make_unique<Agent>("", 200));
    if (int err = move_pid(kCgroupRoot); err) die("move driver back", err);
    std::vector<Agent*> all;
    for (auto& a : owned) all.push_back(a.get());
    step(cg, Nodemask::range(0, 1), all, "before the restart");
    // Write and kill the daemon at once: mid-rebind.
    cg.set_mems(Nodemask::range(2, 3));
    d.kill(SIGKILL);
    std::printf("numakeepd killed with SIGKILL right after the write\n");
    cg.set_mems(Nodemask{1});  // a change nobody watches
    d.start();
    bool ok = wait_until([&] { return converged(all, {}); }, std::chrono::milliseconds(8000));
    g_report.check(ok, "after the restart every process re-registered and converged");
    check_all(all, "after the restart");
    step(cg, Nodemask::range(0, 3), all, "a write to the restarted daemon");
    return g_report.finish();
}

// A program forks continuously (a child every 10 ms, the 8 newest kept
// alive) while three writes change its cgroup's mems; then forking stops
// and every child alive, and the parent, must hold rule(request, M0,
// M_now) in every range and its task policy, read back inside each child.
int fork_during_rebind() {
    if (!require_preload("fork-during-rebind")) return 77;
    Daemon d;
    d.start();
    Cgroup cg("nk-fork", Nodemask::range(0, 3));
    if (int err = move_pid(cg.path()); err) die("move driver", err);
    auto agent = std::make_unique<Agent>("", 16);
    if (int err = move_pid(kCgroupRoot); err) die("move driver back", err);
    const std::vector<std::vector<Nodemask>> rounds = {
        {Nodemask::range(0, 1), Nodemask::range(2, 3), Nodemask::range(0, 3)},
        {Nodemask{1}, Nodemask::range(0, 3), Nodemask::range(1, 2)}};
    for (std::size_t r = 0; r < rounds.size(); ++r) {
        g_report.check(agent->ask("churn-start 10") == "churning", "round %zu: forking", r);
        for (const auto& m : rounds[r]) {
            std::this_thread::sleep_for(std::chrono::milliseconds(150));
            cg.set_mems(m);
            std::printf("wrote mems %s while forking\n", m.to_string().c_str());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        std::string kids = agent->ask("churn-stop");
        std::istringstream in(kids.substr(kids.find(' ') + 1));
        std::vector<int> pids{agent->pid()};
        for (int p; in >> p;) pids.push_back(p);
        g_report.check(pids.size() > 1, "round %zu: %s", r, kids.c_str());
        bool ok = wait_until([&] { return pids_converged(pids); }, std::chrono::seconds(30));
        g_report.check(ok,
                       "round %zu: the parent and its %zu live children registered and converged",
                       r, pids.size() - 1);
        std::string parent = agent->ask("check");
        g_report.check(parent.rfind("ok", 0) == 0, "round %zu: parent %s", r, parent.c_str());
        std::string children = agent->ask("check-children");
        g_report.check(children.rfind("ok", 0) == 0, "round %zu: %s", r, children.c_str());
    }
    agent.reset();
    return g_report.finish();
}

// One program with 8 threads, each with its own task policy, then after a
// write 2 threads that make their own request under the new mems and 2
// that only inherit the main thread's; after every write each thread reads
// its own policy back (get_mempolicy inside it: the kernel exposes a task
// policy to its own thread only).
int threads() {
    if (!require_preload("threads")) return 77;
    Daemon d;
    d.start();
    Cgroup cg("nk-threads", Nodemask::range(0, 3));
    if (int err = move_pid(cg.path()); err) die("move driver", err);
    auto agent = std::make_unique<Agent>();
    if (int err = move_pid(kCgroupRoot); err) die("move driver back", err);
    std::vector<Agent*> agents{agent.get()};
    g_report.check(agent->ask("threads 8") == "threads 8", "8 threads with their own policies");
    auto check_threads = [&](const std::string& label) {
        std::string a = agent->ask("check-threads");
        g_report.check(a.rfind("ok", 0) == 0, "%s: %s", label.c_str(), a.c_str());
    };
    // Requests made and recorded before the first write.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    check_threads("before any write");
    step(cg, Nodemask::range(0, 1), agents, "mems 0-1");
    check_threads("mems 0-1");
    g_report.check(agent->ask("threads 2") == "threads 10",
                   "2 threads with their own requests made under 0-1");
    g_report.check(agent->ask("threads 2 inherit") == "threads 12",
                   "2 threads that inherit the main thread's policy");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    check_threads("threads created after the change");
    for (const auto& m :
         {Nodemask::range(0, 3), Nodemask::range(2, 3), Nodemask{1}, Nodemask::range(0, 3)}) {
        std::string label = "mems " + m.to_string();
        step(cg, m, agents, label);
        check_threads(label);
    }
    agent.reset();
    return g_report.finish();
}

// 100 programs with 1,000 distinct non-adjacent ranges each (plus the four
// DESIGN.md ranges and a task policy); after each write every range of
// every program is read back (get_mempolicy(MPOL_F_ADDR) per range, inside
// each program) against the rule.
int many_processes() {
    if (!require_preload("many-processes")) return 77;
    int n = 100;
    if (const char* e = std::getenv("NK_MANY_PROCESSES")) n = std::atoi(e);
    Daemon d;
    d.start();
    Cgroup cg("nk-many", Nodemask::range(0, 3));
    if (int err = move_pid(cg.path()); err) die("move driver", err);
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::unique_ptr<Agent>> owned;
    for (int i = 0; i < n; ++i) owned.push_back(std::make_unique<Agent>("", 1000, false, false));
    for (auto& a : owned) a->await_ready();
    if (int err = move_pid(kCgroupRoot); err) die("move driver back", err);
    std::printf("%d programs with 1,004 ranges each registered in %lld ms\n", n,
                static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::steady_clock::now() - t0)
                                           .count()));
    std::vector<Agent*> agents;
    for (auto& a : owned) agents.push_back(a.get());
    for (const auto& m : {Nodemask::range(0, 1), Nodemask::range(2, 3), Nodemask::range(0, 3)})
        step(cg, m, agents, "mems " + m.to_string(), 60);
    owned.clear();
    return g_report.finish();
}

}  // namespace

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    ::signal(SIGPIPE, SIG_IGN);
    if (argc != 2) {
        std::fprintf(stderr, "usage: nk-daemon-vm CASE\n");
        return 2;
    }
    std::string c = argv[1];
    int rc;
    if (c == "rebind-intent")
        rc = rebind_intent();
    else if (c == "ancestor-change")
        rc = ancestor_change();
    else if (c == "move-between-cgroups")
        rc = move_between_cgroups();
    else if (c == "stopped-process")
        rc = stopped_process();
    else if (c == "daemon-restart")
        rc = daemon_restart();
    else if (c == "fork-during-rebind")
        rc = fork_during_rebind();
    else if (c == "threads")
        rc = threads();
    else if (c == "many-processes")
        rc = many_processes();
    else {
        std::fprintf(stderr, "unknown case %s\n", c.c_str());
        return 2;
    }
    if (rc != 0) {
        std::printf("--- numakeepd log ---\n");
        if (auto log = read_file(kLog)) std::fputs(log->c_str(), stdout);
    }
    return rc;
}
