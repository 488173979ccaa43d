// SPDX-License-Identifier: MIT
// runtime-signal-workers: a server whose workers block every signal,
// started the way `numactl --interleave=all` starts it (the task policy
// inherited across exec by every thread), through DESIGN.md's sequence of
// cpuset.mems writes, with this program standing in for the daemon
// (fake_daemon.hpp). After every write each worker must carry the rule's
// nodes (read back by the worker itself), whatever it does with signals:
//   - 8 workers that block every signal with pthread_sigmask and 8 with
//     sigprocmask (vm.blocked_threads_rebind_ms times their rounds),
//   - one in sigwaitinfo on a full set, one reading a signalfd of a full set,
//   - one blocked by an inline rt_sigprocmask: reported unreachable, never
//     waited for;
// the program installs counting handlers on half the real-time signals
// (SIGRTMAX among them) before the first rebind and on the other half after
// it, and none of them ever runs for a rebind; its own
// pthread_kill/sigqueue reach them exactly once each; sigaction() answers
// at start and after a rebind what it would without the runtime; and an
// application thread's mbind never waits on a round
// (vm.app_call_stall_max_ms).
//
//   rt-signal-workers [assist|plain]
// re-executes itself with the interleave task policy, LD_PRELOAD and
// NUMAKEEP_KERNEL_ASSIST set.
#include <fcntl.h>
#include <numaif.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "fake_daemon.hpp"
#include "guest.hpp"
#include "numakeep/rebind.hpp"

using namespace numakeep;
using namespace numakeep::guest;
using numakeep::testing::FakeDaemon;

namespace {

constexpr int kMaskWorkers = 16;  // 8 pthread_sigmask, 8 sigprocmask
constexpr int kWaiter = kMaskWorkers, kFdReader = kMaskWorkers + 1, kInline = kMaskWorkers + 2;
constexpr int kThreads = kMaskWorkers + 3;

std::atomic<int> g_tid[kThreads];
std::atomic<int> g_ready{0};
std::atomic<bool> g_stop{false};
std::atomic<int> g_counts[65];
std::atomic<long> g_stall_max_ns{0};
std::atomic<bool> g_measure{false};

void counting(int sig, siginfo_t*, void*) {
    g_counts[sig].fetch_add(1);
}

long now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

// Closed at the end: the idle workers sleep in read() on it until then, as
// a server's workers sleep on their queue (a rebind's signal interrupts the
// read, which is restarted). Not a polling loop: a guest whose threads wake
// every few milliseconds times its own scheduler, not the runtime.
int g_stop_pipe[2] = {-1, -1};

void idle_until_stop() {
    char c;
    while (!g_stop.load() && read(g_stop_pipe[0], &c, 1) != 0) {
    }
}

void* mask_worker(void* arg) {
    const long i = reinterpret_cast<long>(arg);
    g_tid[i] = static_cast<int>(kernel_syscall(SYS_gettid));
    sigset_t all;
    sigfillset(&all);
    if (i % 2)
        sigprocmask(SIG_SETMASK, &all, nullptr);
    else
        pthread_sigmask(SIG_BLOCK, &all, nullptr);
    ++g_ready;
    idle_until_stop();
    return nullptr;
}

void* waiter(void*) {
    g_tid[kWaiter] = static_cast<int>(kernel_syscall(SYS_gettid));
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    ++g_ready;
    siginfo_t si{};
    while (sigwaitinfo(&all, &si) != SIGUSR2) {
    }
    return nullptr;
}

void* fd_reader(void*) {
    g_tid[kFdReader] = static_cast<int>(kernel_syscall(SYS_gettid));
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    int fd = signalfd(-1, &all, SFD_CLOEXEC);
    ++g_ready;
    signalfd_siginfo si{};
    while (read(fd, &si, sizeof si) != sizeof si || si.ssi_signo != SIGUSR2) {
    }
    close(fd);
    return nullptr;
}

void* inline_blocked(void*) {
    g_tid[kInline] = static_cast<int>(kernel_syscall(SYS_gettid));
    std::uint64_t all = ~0ULL;
    kernel_syscall(SYS_rt_sigprocmask, SIG_BLOCK, reinterpret_cast<long>(&all), 0, 8);
    ++g_ready;
    idle_until_stop();
    return nullptr;
}

// A thread's voluntary context switches so far: a call that made none
// never slept (on a lock or anything else); its time is the CPU's, shared
// with every other thread of a loaded guest.
long voluntary_switches() {
    rusage ru{};
    getrusage(RUSAGE_THREAD, &ru);
    return ru.ru_nvcsw;
}

// The application's own calls during the rebinds: the time of each mbind
// that slept (what a round could make it wait for).
void* app_caller(void*) {
    void* page = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    const Nodemask all = Nodemask::range(0, 3);
    while (!g_stop.load()) {
        const long sw0 = voluntary_switches();
        const bool during_rebind = g_measure.load();
        const long t0 = now_ns();
        mbind(page, 4096, MPOL_INTERLEAVE, all.kernel_data(), Nodemask::kKernelMaxnode, 0);
        const long dt = now_ns() - t0;
        if (during_rebind && voluntary_switches() != sw0) {
            long m = g_stall_max_ns.load();
            while (dt > m && !g_stall_max_ns.compare_exchange_weak(m, dt)) {
            }
        }
        usleep(200);
    }
    return nullptr;
}

// Half of the real-time signals get the program's counting handler before
// numakeep's first rebind (SIGRTMAX among them), the other half after it.
bool installed_early(int sig) {
    return (SIGRTMAX - sig) % 2 == 0;
}

void install_counting(bool early) {
    for (int sig = SIGRTMIN; sig <= SIGRTMAX; ++sig) {
        if (installed_early(sig) != early) continue;
        struct sigaction sa {};
        sa.sa_sigaction = counting;
        sa.sa_flags = SA_SIGINFO;
        sigemptyset(&sa.sa_mask);
        sigaction(sig, &sa, nullptr);
    }
}

// sigaction() on every real-time signal answers what the program set: the
// counting handler where it installed one (`late_too`: on all), SIG_DFL
// and no flags elsewhere.
bool handlers_as_set(Report& rep, const char* when, bool early_done, bool late_done) {
    bool ok = true;
    for (int sig = SIGRTMIN; sig <= SIGRTMAX; ++sig) {
        struct sigaction old {};
        sigaction(sig, nullptr, &old);
        const bool mine = installed_early(sig) ? early_done : late_done;
        ok &= mine ? old.sa_sigaction == counting && (old.sa_flags & SA_SIGINFO)
                   : old.sa_handler == SIG_DFL && old.sa_flags == 0;
    }
    return rep.check(ok, "%s: sigaction() finds on every real-time signal what the program set",
                     when);
}

[[noreturn]] void reexec(char** argv, const char* assist) {
    const char* lib = std::getenv("NUMAKEEP_PRELOAD");
    if (!lib) skip("NUMAKEEP_PRELOAD is not set (run through tools/vm)");
    // What `numactl --interleave=all` does before its exec.
    const Nodemask all = Nodemask::range(0, 3);
    if (set_mempolicy(MPOL_INTERLEAVE, all.kernel_data(), Nodemask::kKernelMaxnode) != 0)
        die("set_mempolicy interleave 0-3");
    ::setenv("LD_PRELOAD", lib, 1);
    ::setenv("NUMAKEEP_KERNEL_ASSIST", std::strcmp(assist, "assist") == 0 ? "1" : "0", 1);
    ::setenv("NUMAKEEP_SOCKET", "/run/numakeep-rt-sig/numakeepd.sock", 1);
    ::setenv("NUMAKEEP_DEBUG", "1", 1);
    ::setenv("NUMAKEEP_TEST_REEXEC", "1", 1);
    ::execv("/proc/self/exe", argv);
    die("execv");
}

}  // namespace

int main(int argc, char** argv) {
    const char* assist = argc > 1 ? argv[1] : "plain";
    if (!std::getenv("NUMAKEEP_TEST_REEXEC")) reexec(argv, assist);
    setvbuf(stdout, nullptr, _IOLBF, 0);
    std::printf("kernel assistance: %s\n", assist);

    Report rep;
    const Nodemask all = Nodemask::range(0, 3);
    if (mems_allowed() != all) skip("the guest does not have nodes 0-3");
    handlers_as_set(rep, "at start", false, false);
    install_counting(true);
    handlers_as_set(rep, "before the first rebind", true, false);
    FakeDaemon daemon;
    if (!daemon.listen("/run/numakeep-rt-sig/numakeepd.sock")) return 1;
    Cgroup cg(std::string("nk-rt-sig-") + assist, all);
    cg.add();

    if (pipe2(g_stop_pipe, O_CLOEXEC) != 0) die("pipe2");
    pthread_t t[kThreads + 1];
    for (long i = 0; i < kMaskWorkers; ++i)
        pthread_create(&t[i], nullptr, mask_worker, reinterpret_cast<void*>(i));
    pthread_create(&t[kWaiter], nullptr, waiter, nullptr);
    pthread_create(&t[kFdReader], nullptr, fd_reader, nullptr);
    pthread_create(&t[kInline], nullptr, inline_blocked, nullptr);
    pthread_create(&t[kThreads], nullptr, app_caller, nullptr);
    while (g_ready.load() < kThreads) usleep(1000);
    usleep(20000);

    proto::Hello hello{};
    if (!rep.check(daemon.accept_agent(hello), "the agent registered (%u ranges, %u threads)",
                   hello.ranges, hello.threads))
        return rep.finish();

    const Request req{Mode::Interleave, 0, all, -1};
    const Nodemask steps[] = {Nodemask{0, 1}, all, Nodemask{2, 3}, all, Nodemask{1}, all};
    std::uint64_t generation = 0;
    double worst_rebind_ms = 0;
    for (const Nodemask& mems : steps) {
        const std::string m = mems.to_string();
        const long w0 = now_ns();
        cg.set_mems(mems);
        // Timed from the write's return, as tools/bench vm times every
        // rebind (bench_vm.cpp): the write itself is the kernel's
        // migration of the program's pages.
        const long t0 = now_ns();
        // The application's calls are timed from the write's return: the
        // write itself holds the program's mmap_lock while the kernel
        // rebinds and migrates (update_tasks_nodemask()), which is the
        // kernel's stall, not the runtime's.
        g_measure = true;
        proto::RebindDone done{};
        bool ok = daemon.rebind(++generation, mems, done);
        g_measure = false;
        const double ms = (now_ns() - t0) / 1e6;
        worst_rebind_ms = std::max(worst_rebind_ms, ms);
        rep.check(ok && done.errors == 0, "mems %s: RebindDone (%u threads, %u errors, errno %d)",
                  m.c_str(), done.threads_rebound, done.errors, done.first_errno);
        // Timed, not judged: under TCG the guest's own load decides the
        // time (tools/bench vm reports the figure); a round that waited
        // for a thread that cannot answer shows as an error above.
        std::printf("mems %s: the write %.1f ms, from its return to every thread re-issued: %.1f ms\n",
                    m.c_str(), (t0 - w0) / 1e6, ms);
        const Nodemask want = rebind_nodes(req, all, mems, Semantics::Intent).nodes;
        std::vector<proto::PolicyEntry> rs, ts;
        if (!rep.check(daemon.dump(rs, ts), "mems %s: DumpRecords", m.c_str())) continue;
        int right = 0, unreachable = 0;
        std::string wrong;
        for (int i = 0; i < kThreads; ++i) {
            const proto::PolicyEntry* e = nullptr;
            for (auto& x : ts)
                if (x.tid == g_tid[i].load()) e = &x;
            if (i == kInline) {
                unreachable += e && e->kernel_ok == proto::kKernelUnreachable;
                continue;
            }
            if (e && e->kernel_ok == proto::kKernelRead && (e->kernel_mode & 0xff) == MPOL_INTERLEAVE &&
                e->kernel_now == want)
                ++right;
            else
                wrong += " " + std::to_string(i) + "=" +
                         (e ? e->kernel_now.to_string() + "/ok" + std::to_string(e->kernel_ok) +
                                  "/mode" + std::to_string(e->kernel_mode)
                            : "-");
        }
        rep.check(right == kThreads - 1, "mems %s: %d of %d workers interleave %s%s", m.c_str(),
                  right, kThreads - 1, want.to_string().c_str(), wrong.c_str());
        rep.check(unreachable == 1, "mems %s: the inline-blocked worker is reported unreachable",
                  m.c_str());
        if (generation == 1) {
            handlers_as_set(rep, "after the first rebind", true, false);
            install_counting(false);
            handlers_as_set(rep, "after installing the rest", true, true);
        }
    }
    int from_rebinds = 0;
    for (int sig = SIGRTMIN; sig <= SIGRTMAX; ++sig) from_rebinds += g_counts[sig].load();
    rep.check(from_rebinds == 0, "the program's real-time handlers ran %d times during rebinds",
              from_rebinds);
    // The waiters end first: they would take process-directed signals
    // (with or without the runtime).
    pthread_kill(t[kWaiter], SIGUSR2);
    pthread_kill(t[kFdReader], SIGUSR2);
    pthread_join(t[kWaiter], nullptr);
    pthread_join(t[kFdReader], nullptr);
    for (int sig = SIGRTMIN; sig <= SIGRTMAX; ++sig) {
        pthread_kill(pthread_self(), sig);
        sigval v{};
        sigqueue(getpid(), sig, v);
    }
    for (int spin = 0; spin < 2000; ++spin) {
        bool all = true;
        for (int sig = SIGRTMIN; sig <= SIGRTMAX; ++sig) all &= g_counts[sig].load() >= 2;
        if (all) break;
        usleep(1000);
    }
    usleep(20000);
    int exact = 0;
    for (int sig = SIGRTMIN; sig <= SIGRTMAX; ++sig) exact += g_counts[sig].load() == 2;
    rep.check(exact == SIGRTMAX - SIGRTMIN + 1,
              "the program's own pthread_kill and sigqueue: each handler ran exactly twice "
              "(%d of %d)",
              exact, SIGRTMAX - SIGRTMIN + 1);
    const double stall_ms = g_stall_max_ns.load() / 1e6;
    std::printf("the application's longest mbind that slept during the rebinds: %.2f ms\n",
                stall_ms);
    std::printf("vm.blocked_threads_rebind_ms %.1f ms\n", worst_rebind_ms);
    std::printf("vm.app_call_stall_max_ms %.2f ms\n", stall_ms);

    g_stop = true;
    close(g_stop_pipe[1]);
    for (int i = 0; i <= kThreads; ++i)
        if (i != kWaiter && i != kFdReader) pthread_join(t[i], nullptr);
    return rep.finish();
}
