// SPDX-License-Identifier: MIT
// numakeep's rebind signal is reserved (rebind_signal.hpp): a program that
// does what real programs do with signals sees, receives and blocks exactly
// what it would without the runtime, and every thread with a task policy
// still takes the rounds.
//
// Lines starting "T: " are the transcript: signals_transcript.py runs the
// program plain and preloaded and wants them identical. The checks
// (PASS/FAIL) that need the agent run only preloaded.
#include <numaif.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

#include "harness.hpp"

using namespace numakeep;
using namespace numakeep::testing;

namespace {

std::atomic<int> g_counts[65];
std::atomic<int> g_ready{0};
int g_release[2];  // the blocked workers wait on its read end
unsigned long g_node0 = 1;

void counting(int sig, siginfo_t*, void*) {
    g_counts[sig].fetch_add(1);
}
void plain_handler(int sig) {
    g_counts[sig].fetch_add(1);
}

const char* handler_name(void* h) {
    if (h == reinterpret_cast<void*>(SIG_DFL)) return "DFL";
    if (h == reinterpret_cast<void*>(SIG_IGN)) return "IGN";
    if (h == reinterpret_cast<void*>(counting)) return "counting";
    if (h == reinterpret_cast<void*>(plain_handler)) return "plain";
    return "other";
}

std::uint64_t word(const sigset_t& s) {
    std::uint64_t w;
    std::memcpy(&w, &s, sizeof w);
    return w;
}

// What sigaction() says of every real-time signal.
void transcript_handlers(const char* when) {
    for (int sig = SIGRTMIN; sig <= SIGRTMAX; ++sig) {
        struct sigaction old {};
        int r = sigaction(sig, nullptr, &old);
        std::printf("T: %s sig %d: r=%d %s flags=%#x mask=%#llx\n", when, sig, r,
                    handler_name(reinterpret_cast<void*>(old.sa_handler)), old.sa_flags,
                    static_cast<unsigned long long>(word(old.sa_mask)));
    }
}

// What sigaction() says of every signal, 1 to SIGRTMAX: the runtime's
// signal must read as the program left it, and so must every other (the
// C library's own, 32 and 33, are refused with or without the runtime).
void transcript_every_handler(const char* when) {
    for (int sig = 1; sig <= SIGRTMAX; ++sig) {
        struct sigaction old {};
        errno = 0;
        int r = sigaction(sig, nullptr, &old);
        std::printf("T: %s every sig %d: r=%d errno=%d %s flags=%#x mask=%#llx\n", when, sig, r,
                    r == 0 ? 0 : errno, handler_name(reinterpret_cast<void*>(old.sa_handler)),
                    old.sa_flags, static_cast<unsigned long long>(word(old.sa_mask)));
    }
}

// The masks read back through both calls, whole, after each way of
// setting them: the program reads the mask it set, the reserved signal
// included.
void transcript_masks(const char* who) {
    sigset_t saved, set, got;
    pthread_sigmask(SIG_SETMASK, nullptr, &saved);
    auto show = [&](const char* what) {
        sigset_t a, b;
        int ra = pthread_sigmask(SIG_BLOCK, nullptr, &a);
        int rb = sigprocmask(SIG_BLOCK, nullptr, &b);
        std::printf("T: %s %s: pthread_sigmask r=%d %#llx, sigprocmask r=%d %#llx\n", who, what,
                    ra, static_cast<unsigned long long>(word(a)), rb,
                    static_cast<unsigned long long>(word(b)));
    };
    show("as found");
    sigfillset(&set);
    pthread_sigmask(SIG_BLOCK, &set, &got);
    std::printf("T: %s old of block-all %#llx\n", who, static_cast<unsigned long long>(word(got)));
    show("all blocked");
    sigemptyset(&set);
    sigaddset(&set, SIGRTMAX);
    sigprocmask(SIG_UNBLOCK, &set, &got);
    std::printf("T: %s old of unblock-RTMAX %#llx\n", who, static_cast<unsigned long long>(word(got)));
    show("RTMAX unblocked");
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_SETMASK, &set, nullptr);
    show("set to RTMAX+USR1");
    errno = 0;
    int bad = pthread_sigmask(77, &set, nullptr);
    std::printf("T: %s bad how -> %d\n", who, bad);
    pthread_sigmask(SIG_SETMASK, &saved, nullptr);
    show("restored");
}

// sigpending() of signals the thread sent itself while it blocked them,
// the reserved one among them, then taken back with sigtimedwait().
void transcript_pending(const char* who) {
    sigset_t block, saved, pending;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigaddset(&block, SIGRTMAX);
    sigaddset(&block, SIGRTMIN + 1);
    pthread_sigmask(SIG_BLOCK, &block, &saved);
    sigpending(&pending);
    std::printf("T: %s pending before: %#llx\n", who, static_cast<unsigned long long>(word(pending)));
    pthread_kill(pthread_self(), SIGUSR1);
    pthread_kill(pthread_self(), SIGRTMAX);
    pthread_kill(pthread_self(), SIGRTMIN + 1);
    sigpending(&pending);
    std::printf("T: %s pending after three sends: %#llx\n", who,
                static_cast<unsigned long long>(word(pending)));
    const timespec zero{0, 0};
    for (int i = 0; i < 4; ++i) {
        siginfo_t si{};
        int r = sigtimedwait(&block, &si, &zero);
        std::printf("T: %s sigtimedwait -> %d\n", who, r);
    }
    sigpending(&pending);
    std::printf("T: %s pending after: %#llx\n", who, static_cast<unsigned long long>(word(pending)));
    pthread_sigmask(SIG_SETMASK, &saved, nullptr);
}

void wait_release() {
    char c;
    while (read(g_release[0], &c, 1) < 0) {
    }
}

void report_mask(const char* who) {
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, nullptr, &cur);
    std::printf("T: %s believes SIGRTMAX blocked: %d, SIGUSR1: %d\n", who,
                sigismember(&cur, SIGRTMAX), sigismember(&cur, SIGUSR1));
}

std::atomic<pid_t> g_tid[6];

void* blocked_by_pthread_sigmask(void*) {
    g_tid[0] = gettid_raw();
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    report_mask("pthread_sigmask worker");
    ++g_ready;
    wait_release();
    return nullptr;
}

void* blocked_by_sigprocmask(void*) {
    g_tid[1] = gettid_raw();
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, nullptr);
    report_mask("sigprocmask worker");
    ++g_ready;
    wait_release();
    return nullptr;
}

std::atomic<int> g_waited_sig{0}, g_fd_sig{0};

void* in_sigwaitinfo(void*) {
    g_tid[2] = gettid_raw();
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    ++g_ready;
    siginfo_t si{};
    int r = sigwaitinfo(&all, &si);
    g_waited_sig = r;
    return nullptr;
}

void* reading_signalfd(void*) {
    g_tid[3] = gettid_raw();
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    int fd = signalfd(-1, &all, SFD_CLOEXEC);
    ++g_ready;
    signalfd_siginfo si{};
    ssize_t n;
    while ((n = read(fd, &si, sizeof si)) < 0) {
    }
    g_fd_sig = n == sizeof si ? static_cast<int>(si.ssi_signo) : -1;
    close(fd);
    return nullptr;
}

void* blocked_inline(void*) {
    g_tid[4] = gettid_raw();
    std::uint64_t all = ~0ULL;
    numakeep::preload::raw(SYS_rt_sigprocmask, SIG_BLOCK, &all, nullptr, 8);
    ++g_ready;
    wait_release();
    return nullptr;
}

double now_ms() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// A round (DumpRecords asks every thread with a task policy) and what it
// found of each worker.
void round_and_check(Harness& h, const char* when) {
    std::vector<PolicyEntry> ranges, threads;
    const double t0 = now_ms();
    if (!h.records(ranges, threads)) return;
    const double ms = now_ms() - t0;
    h.check(ms < 300, "%s: the round did not wait for the unreachable thread (%.1f ms)", when, ms);
    const char* names[] = {"pthread_sigmask", "sigprocmask", "sigwaitinfo", "signalfd"};
    for (int i = 0; i < 4; ++i) {
        const PolicyEntry* e = find_thread(threads, g_tid[i]);
        h.check(e && e->kernel_ok == proto::kKernelRead, "%s: the %s thread answered", when,
                names[i]);
    }
    const PolicyEntry* e = find_thread(threads, g_tid[4]);
    h.check(e && e->kernel_ok == proto::kKernelUnreachable,
            "%s: the inline-blocked thread is reported unreachable (kernel_ok=%d)", when,
            e ? e->kernel_ok : -1);
}

}  // namespace

int main(int argc, char** argv) {
    Harness h(argc, argv);
    transcript_handlers("start");
    transcript_every_handler("start");
    transcript_masks("start");
    transcript_pending("start");
    h.check(set_mempolicy(MPOL_PREFERRED, &g_node0, 2) == 0, "main: set_mempolicy preferred");
    char* a = map_pages(1);
    h.check(mbind(a, 4096, MPOL_BIND, &g_node0, 2, 0) == 0, "mbind (starts the agent)");
    if (pipe(g_release) != 0) return 1;
    report_mask("main");

    pthread_t t[5];
    pthread_create(&t[0], nullptr, blocked_by_pthread_sigmask, nullptr);
    while (g_ready < 1) usleep(1000);
    pthread_create(&t[1], nullptr, blocked_by_sigprocmask, nullptr);
    while (g_ready < 2) usleep(1000);
    pthread_create(&t[2], nullptr, in_sigwaitinfo, nullptr);
    pthread_create(&t[3], nullptr, reading_signalfd, nullptr);
    pthread_create(&t[4], nullptr, blocked_inline, nullptr);
    while (g_ready < 5) usleep(1000);
    usleep(20000);  // the waiters are in their waits

    if (h.preloaded()) round_and_check(h, "first round");
    transcript_handlers("after a round");
    transcript_every_handler("after a round");
    transcript_masks("after a round");
    transcript_pending("after a round");

    // Handlers on every real-time signal; rounds must never run them.
    for (int sig = SIGRTMIN; sig <= SIGRTMAX; ++sig) {
        struct sigaction sa {};
        sa.sa_sigaction = counting;
        sa.sa_flags = SA_SIGINFO;
        sigemptyset(&sa.sa_mask);
        sigaddset(&sa.sa_mask, SIGUSR1);
        sigaction(sig, &sa, nullptr);
    }
    transcript_handlers("installed");
    transcript_every_handler("installed");
    if (h.preloaded()) {
        round_and_check(h, "second round");
        round_and_check(h, "third round");
    }
    // The waiters take the program's own signal and end (they would take
    // the process-directed signals below).
    pthread_kill(t[2], SIGUSR2);
    pthread_kill(t[3], SIGUSR2);
    pthread_join(t[2], nullptr);
    pthread_join(t[3], nullptr);
    std::printf("T: sigwaitinfo took %d, signalfd read %d\n", g_waited_sig.load(),
                g_fd_sig.load());
    int from_rounds = 0;
    for (int sig = SIGRTMIN; sig <= SIGRTMAX; ++sig) from_rounds += g_counts[sig].load();
    std::printf("T: handler calls after the rounds: %d\n", from_rounds);

    // The program's own signals: exactly one call each.
    for (int sig = SIGRTMIN; sig <= SIGRTMAX; ++sig) {
        pthread_kill(pthread_self(), sig);
        sigval v{};
        v.sival_int = sig;
        sigqueue(getpid(), sig, v);
    }
    for (int spin = 0; spin < 200; ++spin) {
        bool all = true;
        for (int sig = SIGRTMIN; sig <= SIGRTMAX; ++sig) all &= g_counts[sig].load() == 2;
        if (all) break;
        usleep(1000);
    }
    for (int sig = SIGRTMIN; sig <= SIGRTMAX; ++sig)
        std::printf("T: sig %d taken %d times\n", sig, g_counts[sig].load());

    // SA_RESETHAND on the reserved signal: the program's action is reset.
    struct sigaction once {};
    once.sa_handler = plain_handler;
    once.sa_flags = SA_RESETHAND;
    sigemptyset(&once.sa_mask);
    sigaction(SIGRTMAX, &once, nullptr);
    pthread_kill(pthread_self(), SIGRTMAX);
    struct sigaction after {};
    sigaction(SIGRTMAX, nullptr, &after);
    std::printf("T: after SA_RESETHAND: %s flags=%#x, calls %d\n",
                handler_name(reinterpret_cast<void*>(after.sa_handler)), after.sa_flags,
                g_counts[SIGRTMAX].load());

    // signal(), sysv_signal(), sigset() and the raw system call.
    auto r1 = signal(SIGRTMAX, plain_handler);
    auto r2 = sysv_signal(SIGRTMAX, SIG_IGN);
    // sigset() is deprecated, not gone: programs still call it.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    auto r3 = sigset(SIGRTMAX, SIG_HOLD);
    auto r4 = sigset(SIGRTMAX, plain_handler);
#pragma GCC diagnostic pop
    std::printf("T: signal -> %s, sysv_signal -> %s, sigset(HOLD) -> %s, sigset -> %s\n",
                handler_name(reinterpret_cast<void*>(r1)), handler_name(reinterpret_cast<void*>(r2)),
                r3 == SIG_HOLD ? "HOLD" : handler_name(reinterpret_cast<void*>(r3)),
                r4 == SIG_HOLD ? "HOLD" : handler_name(reinterpret_cast<void*>(r4)));
    struct {
        void* handler;
        unsigned long flags;
        void* restorer;
        std::uint64_t mask;
    } kact{};
    long kr = syscall(SYS_rt_sigaction, SIGRTMAX, nullptr, &kact, 8);
    std::printf("T: rt_sigaction -> %ld %s flags=%#lx mask=%#llx\n", kr, handler_name(kact.handler),
                kact.flags, static_cast<unsigned long long>(kact.mask));
    errno = 0;
    kr = syscall(SYS_rt_sigaction, SIGRTMAX, nullptr, &kact, 4);
    std::printf("T: bad sigsetsize -> %ld errno %d\n", kr, errno);
    report_mask("main after sigset");

    // SIG_IGN ignores someone else's signal; SIG_DFL terminates.
    signal(SIGRTMAX, SIG_IGN);
    kill(getpid(), SIGRTMAX);
    usleep(10000);
    std::printf("T: alive after an ignored SIGRTMAX\n");
    pid_t child = fork();
    if (child == 0) {
        signal(SIGRTMAX, SIG_DFL);
        raise(SIGRTMAX);
        usleep(100000);
        _exit(7);
    }
    int status = 0;
    waitpid(child, &status, 0);
    std::printf("T: child with SIG_DFL: signalled %d by %s\n", WIFSIGNALED(status),
                WIFSIGNALED(status) && WTERMSIG(status) == SIGRTMAX ? "SIGRTMAX" : "other");

    if (write(g_release[1], "xxx", 3) != 3) return 1;
    for (int i : {0, 1, 4}) pthread_join(t[i], nullptr);
    return h.finish();
}
