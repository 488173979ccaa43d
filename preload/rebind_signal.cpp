// SPDX-License-Identifier: MIT
#include "rebind_signal.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "raw_syscall.hpp"
#include "record_keeper.hpp"
#include "reentrancy_guard.hpp"

namespace numakeep::preload {
namespace {

// The kernel's struct sigaction (rt_sigaction(2)): glibc's differs in size
// and order.
struct KernelAction {
    std::uint64_t handler;
    std::uint64_t flags;
    std::uint64_t restorer;
    std::uint64_t mask;
};
constexpr long kSigsetBytes = 8;
#if defined(__x86_64__)
constexpr std::uint64_t kSaRestorer = 0x04000000;  // glibc always adds it (and its restorer)
#else
constexpr std::uint64_t kSaRestorer = 0;
#endif
// do_sigaction() drops SIGKILL and SIGSTOP from every sa_mask.
constexpr std::uint64_t kUnmaskable = (1ULL << (SIGKILL - 1)) | (1ULL << (SIGSTOP - 1));

std::uint64_t bit(int sig) {
    return 1ULL << (sig - 1);
}
std::uint64_t word_of(const sigset_t& s) {
    std::uint64_t w;
    std::memcpy(&w, &s, sizeof w);
    return w;
}
void set_word(sigset_t& s, std::uint64_t w) {
    sigemptyset(&s);
    std::memcpy(&s, &w, sizeof w);
}

// ---- The next definitions (another preload's, else libc's) ----

template <typename Fn>
Fn next(std::atomic<Fn>& slot, const char* name) {
    Fn f = slot.load(std::memory_order_acquire);
    if (!f) {
        ReentrancyGuard guard;  // dlsym may allocate and come back to us
        f = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
        slot.store(f, std::memory_order_release);
    }
    return f;
}
#define NUMAKEEP_NEXT(type, name)                       \
    [] {                                                \
        static std::atomic<type> slot{nullptr};         \
        return next(slot, #name);                       \
    }()

using SigactionFn = int (*)(int, const struct sigaction*, struct sigaction*);
using MaskFn = int (*)(int, const sigset_t*, sigset_t*);
using SigsetFn = sighandler_t (*)(int, sighandler_t);

int real_sigaction(int sig, const struct sigaction* act, struct sigaction* old) {
    auto f = NUMAKEEP_NEXT(SigactionFn, sigaction);
    if (!f) return static_cast<int>(libc_result(-ENOSYS));
    return f(sig, act, old);
}

// ---- The program's view of the signal's action ----
//
// Read by the dispatcher on any thread, written by the program's calls: a
// seqlock over relaxed atomic words; writers take a spin flag with every
// signal blocked, so a handler that writes (SA_RESETHAND, a sigaction in a
// handler) never spins on its own thread's flag.

std::atomic<std::uint32_t> g_view_seq{0};
std::atomic<std::uint64_t> g_view[4];  // KernelAction's fields
std::atomic<bool> g_view_known{false};
std::atomic_flag g_view_lock = ATOMIC_FLAG_INIT;
std::atomic<bool> g_dispatcher_installed{false};
std::atomic<std::uint64_t> g_libc_restorer{0};
std::atomic<std::uint64_t> g_token{0};
std::atomic<OwnSignalWork> g_own{nullptr};

constinit thread_local bool t_believes_blocked __attribute__((tls_model("initial-exec"))) = false;
constinit thread_local std::uint32_t t_own_taken __attribute__((tls_model("initial-exec"))) = 0;
constinit thread_local std::uint32_t t_program_taken __attribute__((tls_model("initial-exec"))) = 0;

class ViewWriter {
  public:
    ViewWriter() {
        std::uint64_t all = ~0ULL;
        raw(SYS_rt_sigprocmask, SIG_SETMASK, &all, &saved_, kSigsetBytes);
        while (g_view_lock.test_and_set(std::memory_order_acquire)) {
        }
    }
    ~ViewWriter() {
        g_view_lock.clear(std::memory_order_release);
        raw(SYS_rt_sigprocmask, SIG_SETMASK, &saved_, nullptr, kSigsetBytes);
    }
    ViewWriter(const ViewWriter&) = delete;
    ViewWriter& operator=(const ViewWriter&) = delete;

  private:
    std::uint64_t saved_ = 0;
};

KernelAction read_view() {
    KernelAction a{};
    for (;;) {
        std::uint32_t s1 = g_view_seq.load(std::memory_order_acquire);
        if (s1 & 1) continue;
        a.handler = g_view[0].load(std::memory_order_relaxed);
        a.flags = g_view[1].load(std::memory_order_relaxed);
        a.restorer = g_view[2].load(std::memory_order_relaxed);
        a.mask = g_view[3].load(std::memory_order_relaxed);
        if (g_view_seq.fetch_add(0, std::memory_order_release) == s1) return a;
    }
}

void write_view_locked(const KernelAction& a) {
    g_view_seq.fetch_add(1, std::memory_order_acq_rel);
    g_view[0].store(a.handler, std::memory_order_relaxed);
    g_view[1].store(a.flags, std::memory_order_relaxed);
    g_view[2].store(a.restorer, std::memory_order_relaxed);
    g_view[3].store(a.mask, std::memory_order_relaxed);
    g_view_seq.fetch_add(1, std::memory_order_release);
}

void dispatch(int sig, siginfo_t* si, void* uc);

// The first look (writer lock held): what the kernel holds now is the
// program's (SIG_DFL, or SIG_IGN inherited across exec), unless it is
// already our dispatcher (a fork's child inherits both).
void capture_view_locked() {
    if (g_view_known.load(std::memory_order_acquire)) return;
    KernelAction k{};
    if (raw(SYS_rt_sigaction, reserved_signal(), nullptr, &k, kSigsetBytes) != 0) k = {};
    write_view_locked(k);
    g_view_known.store(true, std::memory_order_release);
}

// Puts the dispatcher in the kernel (once). SA_RESTART: the threads' own
// system calls resume after numakeep's work; SA_ONSTACK as the program
// asked (its alternate stack, if it set one up for this signal).
bool install_dispatcher(bool onstack) {
    struct sigaction sa {};
    sa.sa_sigaction = dispatch;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | (onstack ? SA_ONSTACK : 0);
    sigfillset(&sa.sa_mask);
    if (real_sigaction(reserved_signal(), &sa, nullptr) != 0) return false;
    KernelAction k{};
    if (raw(SYS_rt_sigaction, reserved_signal(), nullptr, &k, kSigsetBytes) == 0 &&
        (k.flags & kSaRestorer))
        g_libc_restorer.store(k.restorer, std::memory_order_relaxed);
    g_dispatcher_installed.store(true, std::memory_order_release);
    return true;
}

// The program sets an action (writer lock held).
void program_sets(const KernelAction& a) {
    capture_view_locked();
    const bool onstack = (a.flags & SA_ONSTACK) != 0;
    if (!g_dispatcher_installed.load(std::memory_order_acquire) ||
        (onstack != ((read_view().flags & SA_ONSTACK) != 0)))
        install_dispatcher(onstack);
    KernelAction stored = a;
    stored.mask &= ~kUnmaskable;
    write_view_locked(stored);
}

pid_t own_pid() {
    return static_cast<pid_t>(raw(SYS_getpid));
}

bool is_own(const siginfo_t* si) {
    const std::uint64_t token = g_token.load(std::memory_order_relaxed);
    return si && token && si->si_code == SI_QUEUE && si->si_pid == own_pid() &&
           reinterpret_cast<std::uint64_t>(si->si_value.sival_ptr) == token;
}

// The program's action for a signal someone else sent, as the kernel's
// handle_signal() would have run it.
void run_program_action(int sig, siginfo_t* si, ucontext_t* uc) {
    ++t_program_taken;
    const pid_t pid = own_pid();
    const pid_t tid = static_cast<pid_t>(raw(SYS_gettid));
    if (t_believes_blocked && si && si->si_code == SI_TKILL) {
        // Sent to this thread, which believes it blocked the signal: leave
        // it pending and blocked, as the program expects (it may take it
        // with sigwaitinfo or by unblocking).
        sigaddset(&uc->uc_sigmask, sig);
        raw(SYS_rt_tgsigqueueinfo, pid, tid, sig, si);
        return;
    }
    KernelAction a = read_view();
    const auto handler = reinterpret_cast<sighandler_t>(a.handler);
    if (handler == SIG_IGN) return;
    if (handler == SIG_DFL) {
        // The default action of a real-time signal terminates: put the
        // default in the kernel and send the signal again; it is taken
        // once this handler returns and unblocks it.
        KernelAction dfl{};
        raw(SYS_rt_sigaction, sig, &dfl, nullptr, kSigsetBytes);
        raw(SYS_tgkill, pid, tid, sig);
        return;
    }
    if (a.flags & SA_RESETHAND) {
        ViewWriter w;
        KernelAction reset = a;
        reset.handler = reinterpret_cast<std::uint64_t>(SIG_DFL);
        reset.flags &= ~static_cast<std::uint64_t>(SA_SIGINFO);
        write_view_locked(reset);
    }
    // signal_setup_done(): blocked while the handler runs = the mask it
    // interrupted, its sa_mask, and the signal itself unless SA_NODEFER.
    std::uint64_t blocked = word_of(uc->uc_sigmask) | a.mask;
    if (!(a.flags & SA_NODEFER)) blocked |= bit(sig);
    raw(SYS_rt_sigprocmask, SIG_SETMASK, &blocked, nullptr, kSigsetBytes);
    if (a.flags & SA_SIGINFO)
        reinterpret_cast<void (*)(int, siginfo_t*, void*)>(a.handler)(sig, si, uc);
    else
        handler(sig);
}

void dispatch(int sig, siginfo_t* si, void* uc) {
    const int saved = errno;
    if (is_own(si)) {
        ++t_own_taken;
        if (OwnSignalWork own = g_own.load(std::memory_order_acquire)) own();
        errno = saved;
        return;
    }
    run_program_action(sig, si, static_cast<ucontext_t*>(uc));
}

// A set passed to the kernel with the reserved signal taken out.
struct Stripped {
    sigset_t set;
    const sigset_t* arg = nullptr;
    bool had = false;
    explicit Stripped(const sigset_t* s) {
        if (!s) return;
        set = *s;
        had = sigismember(&set, reserved_signal()) == 1;
        // Taken out before any round reserved the signal: the dispatcher
        // goes in now, or the kernel (not told to block it) would run the
        // default action, termination, on a signal the program believes
        // blocked or waits for.
        if (had && !g_dispatcher_installed.load(std::memory_order_acquire))
            reserve_rebind_signal(nullptr);
        sigdelset(&set, reserved_signal());
        arg = &set;
    }
};

// What the program believes after a successful mask change.
void settle_belief(int how, const Stripped& in, bool was, bool kernel_had, sigset_t* old) {
    if (old && (was || kernel_had)) sigaddset(old, reserved_signal());
    if (!in.arg) return;
    switch (how) {
        case SIG_BLOCK:
            if (in.had) t_believes_blocked = true;
            break;
        case SIG_UNBLOCK:
            if (in.had) t_believes_blocked = false;
            break;
        case SIG_SETMASK:
            t_believes_blocked = in.had;
            break;
        default:
            break;
    }
}

template <typename Call>
int change_mask(int how, const sigset_t* set, sigset_t* old, Call call) {
    Stripped in(set);
    const bool was = t_believes_blocked;
    int r = call(how, in.arg, old);
    if (r == 0) {  // pthread_sigmask returns the error, sigprocmask -1 and errno
        const bool kernel_had = old && sigismember(old, reserved_signal()) == 1;
        settle_belief(how, in, was, kernel_had, old);
    }
    return r;
}

// A thread the rounds can reach: only threads with a task policy are ever
// signalled; any other thread's waits pass the program's mask untouched.
bool round_target() {
    ThreadRecord* tr = t_thread_record;
    return tr && __atomic_load_n(&tr->has_policy, __ATOMIC_RELAXED);
}

std::int64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

timespec left_of(const timespec& total, std::int64_t start_ns) {
    std::int64_t left = static_cast<std::int64_t>(total.tv_sec) * 1000000000 + total.tv_nsec -
                        (now_ns() - start_ns);
    if (left < 0) left = 0;
    return timespec{static_cast<time_t>(left / 1000000000), static_cast<long>(left % 1000000000)};
}

// The sigwait family: the reserved signal stays in the set when the
// program put it there (it may be waiting for someone else's); one of
// numakeep's own taken that way is done here and the wait resumed, as is a
// wait that only numakeep's handler interrupted (EINTR).
template <typename Wait>
int wait_for_signal(const sigset_t* set, siginfo_t* info, Wait wait) {
    const int sig = reserved_signal();
    for (;;) {
        siginfo_t own{};
        siginfo_t* out = info ? info : &own;
        const SignalTally before = signal_tally();
        int r = wait(set, out);
        if (r == sig && is_own(out)) {
            ++t_own_taken;
            if (OwnSignalWork work = g_own.load(std::memory_order_acquire)) work();
            continue;
        }
        if (r < 0 && errno == EINTR && only_own_signal_since(before)) continue;
        return r;
    }
}

}  // namespace

int reserved_signal() {
    return SIGRTMAX;
}

bool reserve_rebind_signal(OwnSignalWork own) {
    if (!g_token.load(std::memory_order_acquire)) {
        std::uint64_t token = 0;
        while (!token)
            if (raw(SYS_getrandom, &token, sizeof token, 0) != sizeof token)
                token = static_cast<std::uint64_t>(now_ns()) * 0x9E3779B97F4A7C15ULL |
                        static_cast<std::uint64_t>(own_pid());
        std::uint64_t none = 0;
        g_token.compare_exchange_strong(none, token, std::memory_order_acq_rel);
    }
    // nullptr: reserved by a mask call before any round; the work comes
    // with the first round (and is never taken back).
    if (own) g_own.store(own, std::memory_order_release);
    if (g_dispatcher_installed.load(std::memory_order_acquire)) return true;
    ViewWriter w;
    capture_view_locked();
    if (g_dispatcher_installed.load(std::memory_order_acquire)) return true;
    return install_dispatcher((read_view().flags & SA_ONSTACK) != 0);
}

long send_rebind_signal(pid_t pid, pid_t tid) {
    siginfo_t si{};
    si.si_signo = reserved_signal();
    si.si_code = SI_QUEUE;
    si.si_pid = pid;
    si.si_uid = static_cast<uid_t>(raw(SYS_getuid));
    si.si_value.sival_ptr = reinterpret_cast<void*>(g_token.load(std::memory_order_acquire));
    return raw(SYS_rt_tgsigqueueinfo, pid, tid, reserved_signal(), &si);
}

bool thread_blocks_rebind_signal(pid_t tid) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/self/task/%d/status", static_cast<int>(tid));
    long fd = raw(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    char buf[4096];
    long n = 0;
    for (;;) {
        long r = raw(SYS_read, fd, buf + n, sizeof buf - 1 - n);
        if (r == -EINTR) continue;
        if (r <= 0) break;
        n += r;
        if (n >= static_cast<long>(sizeof buf) - 1) break;
    }
    raw(SYS_close, fd);
    buf[n] = '\0';
    // Blocked and pending: a thread that only runs the dispatcher (which
    // blocks every signal while it runs) or blocks it for an instant (the
    // C library does, around clone) has taken ours or takes it soon.
    const char* pnd = std::strstr(buf, "\nSigPnd:");
    const char* blk = std::strstr(buf, "\nSigBlk:");
    if (!pnd || !blk) return false;
    const std::uint64_t pending = std::strtoull(pnd + 8, nullptr, 16);
    const std::uint64_t blocked = std::strtoull(blk + 8, nullptr, 16);
    return (pending & blocked & bit(reserved_signal())) != 0;
}

SignalTally signal_tally() {
    return SignalTally{t_own_taken, t_program_taken};
}

bool only_own_signal_since(const SignalTally& before) {
    return t_own_taken != before.own && t_program_taken == before.program;
}

// ---- The program's calls ----

int on_sigaction(int sig, const struct sigaction* act, struct sigaction* old) {
    if (sig != reserved_signal() || ReentrancyGuard::active()) return real_sigaction(sig, act, old);
    ViewWriter w;
    capture_view_locked();
    const KernelAction before = read_view();
    if (act) {
        KernelAction a{};
        a.handler = reinterpret_cast<std::uint64_t>(act->sa_handler);
        a.flags = static_cast<std::uint32_t>(act->sa_flags);
        if (kSaRestorer) {  // what glibc's __libc_sigaction hands the kernel
            a.flags |= kSaRestorer;
            a.restorer = g_libc_restorer.load(std::memory_order_relaxed);
        }
        a.mask = word_of(act->sa_mask);
        program_sets(a);
        if (kSaRestorer && !a.restorer) {  // learned only now, by the install
            a.restorer = g_libc_restorer.load(std::memory_order_relaxed);
            program_sets(a);
        }
    }
    if (old) {
        std::memset(old, 0, sizeof *old);
        old->sa_handler = reinterpret_cast<sighandler_t>(before.handler);
        old->sa_flags = static_cast<int>(before.flags);
        set_word(old->sa_mask, before.mask);
#if defined(__x86_64__)
        old->sa_restorer = reinterpret_cast<void (*)()>(before.restorer);
#endif
    }
    return 0;
}

long on_rt_sigaction_syscall(long sig, long act, long old, long sigsetsize) {
    if (sig != reserved_signal() || sigsetsize != kSigsetBytes)
        return raw(SYS_rt_sigaction, sig, act, old, sigsetsize);
    ViewWriter w;
    capture_view_locked();
    const KernelAction before = read_view();
    if (act) program_sets(*reinterpret_cast<const KernelAction*>(act));
    if (old) *reinterpret_cast<KernelAction*>(old) = before;
    return 0;
}

long on_rt_sigprocmask_syscall(long how, long set, long old, long sigsetsize) {
    if (sigsetsize != kSigsetBytes) return raw(SYS_rt_sigprocmask, how, set, old, sigsetsize);
    const int sig = reserved_signal();
    std::uint64_t pass = 0;
    const bool had = set && (*reinterpret_cast<const std::uint64_t*>(set) & bit(sig));
    if (set) pass = *reinterpret_cast<const std::uint64_t*>(set) & ~bit(sig);
    const bool was = t_believes_blocked;
    long r = raw(SYS_rt_sigprocmask, how, set ? &pass : nullptr, old, sigsetsize);
    if (r != 0) return r;
    if (old && was) *reinterpret_cast<std::uint64_t*>(old) |= bit(sig);
    if (set) {
        if (how == SIG_BLOCK && had) t_believes_blocked = true;
        if (how == SIG_UNBLOCK && had) t_believes_blocked = false;
        if (how == SIG_SETMASK) t_believes_blocked = had;
    }
    return r;
}

// glibc's own signal() and sysv_signal(), on the reserved signal.
sighandler_t on_signal(int sig, sighandler_t handler, bool sysv) {
    if (sig != reserved_signal()) {
        auto f = sysv ? NUMAKEEP_NEXT(SigsetFn, sysv_signal) : NUMAKEEP_NEXT(SigsetFn, signal);
        return f ? f(sig, handler) : SIG_ERR;
    }
    if (handler == SIG_ERR) {
        errno = EINVAL;
        return SIG_ERR;
    }
    struct sigaction act {}, old {};
    act.sa_handler = handler;
    sigemptyset(&act.sa_mask);
    if (sysv) {
        act.sa_flags = static_cast<int>(SA_RESETHAND | SA_NODEFER);
    } else {
        sigaddset(&act.sa_mask, sig);
        act.sa_flags = SA_RESTART;
    }
    if (on_sigaction(sig, &act, &old) < 0) return SIG_ERR;
    return old.sa_handler;
}

// glibc's sigset(), on the reserved signal.
sighandler_t on_sigset(int sig, sighandler_t disp) {
    if (sig != reserved_signal()) {
        auto f = NUMAKEEP_NEXT(SigsetFn, sigset);
        return f ? f(sig, disp) : SIG_ERR;
    }
    sigset_t one, oset;
    sigemptyset(&one);
    sigaddset(&one, sig);
    struct sigaction act {}, oact {};
    if (disp == SIG_HOLD) {
        if (on_sigprocmask(SIG_BLOCK, &one, &oset) < 0) return SIG_ERR;
        if (sigismember(&oset, sig)) return SIG_HOLD;
        if (on_sigaction(sig, nullptr, &oact) < 0) return SIG_ERR;
        return oact.sa_handler;
    }
    act.sa_handler = disp;
    sigemptyset(&act.sa_mask);
    if (on_sigaction(sig, &act, &oact) < 0) return SIG_ERR;
    if (on_sigprocmask(SIG_UNBLOCK, &one, &oset) < 0) return SIG_ERR;
    return sigismember(&oset, sig) ? SIG_HOLD : oact.sa_handler;
}

int on_sigprocmask(int how, const sigset_t* set, sigset_t* old) {
    auto f = NUMAKEEP_NEXT(MaskFn, sigprocmask);
    if (!f) return static_cast<int>(libc_result(-ENOSYS));
    if (ReentrancyGuard::active()) return f(how, set, old);
    return change_mask(how, set, old, f);
}

int on_pthread_sigmask(int how, const sigset_t* set, sigset_t* old) {
    auto f = NUMAKEEP_NEXT(MaskFn, pthread_sigmask);
    if (!f) return ENOSYS;
    if (ReentrancyGuard::active()) return f(how, set, old);
    return change_mask(how, set, old, f);
}

int on_sigsuspend(const sigset_t* mask) {
    using Fn = int (*)(const sigset_t*);
    auto f = NUMAKEEP_NEXT(Fn, sigsuspend);
    if (!f) return static_cast<int>(libc_result(-ENOSYS));
    if (!mask || !round_target()) return f(mask);
    Stripped in(mask);
    return f(in.arg);
}

int on_sigwaitinfo(const sigset_t* set, siginfo_t* info) {
    using Fn = int (*)(const sigset_t*, siginfo_t*);
    auto f = NUMAKEEP_NEXT(Fn, sigwaitinfo);
    if (!f) return static_cast<int>(libc_result(-ENOSYS));
    if (!set || ReentrancyGuard::active()) return f(set, info);
    return wait_for_signal(set, info, [&](const sigset_t* s, siginfo_t* out) { return f(s, out); });
}

int on_sigtimedwait(const sigset_t* set, siginfo_t* info, const struct timespec* timeout) {
    using Fn = int (*)(const sigset_t*, siginfo_t*, const struct timespec*);
    auto f = NUMAKEEP_NEXT(Fn, sigtimedwait);
    if (!f) return static_cast<int>(libc_result(-ENOSYS));
    if (!set || ReentrancyGuard::active()) return f(set, info, timeout);
    const std::int64_t start = now_ns();
    return wait_for_signal(set, info, [&](const sigset_t* s, siginfo_t* out) {
        if (!timeout) return f(s, out, nullptr);
        const timespec left = left_of(*timeout, start);
        return f(s, out, &left);
    });
}

int on_sigwait(const sigset_t* set, int* sig) {
    // glibc's sigwait() is sigtimedwait() without a timeout, resumed on
    // EINTR; done here so numakeep's own signal is filtered the same way.
    if (!set || !sig) {
        using Fn = int (*)(const sigset_t*, int*);
        auto f = NUMAKEEP_NEXT(Fn, sigwait);
        return f ? f(set, sig) : ENOSYS;
    }
    const int saved = errno;
    int r;
    do {
        r = on_sigwaitinfo(set, nullptr);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        int err = errno;
        errno = saved;
        return err;
    }
    *sig = r;
    errno = saved;
    return 0;
}

int on_signalfd(int fd, const sigset_t* mask, int flags) {
    using Fn = int (*)(int, const sigset_t*, int);
    auto f = NUMAKEEP_NEXT(Fn, signalfd);
    if (!f) return static_cast<int>(libc_result(-ENOSYS));
    if (!mask) return f(fd, mask, flags);
    // numakeep's own signal, pending for an instant before its handler
    // runs, must never be read from the program's descriptor.
    Stripped in(mask);
    return f(fd, in.arg, flags);
}

int on_ppoll(struct pollfd* fds, unsigned long nfds, const struct timespec* timeout,
             const sigset_t* mask) {
    using Fn = int (*)(struct pollfd*, nfds_t, const struct timespec*, const sigset_t*);
    auto f = NUMAKEEP_NEXT(Fn, ppoll);
    if (!f) return static_cast<int>(libc_result(-ENOSYS));
    if (!mask || !round_target()) return f(fds, nfds, timeout, mask);
    Stripped in(mask);
    return f(fds, nfds, timeout, in.arg);
}

int on_pselect(int nfds, void* readfds, void* writefds, void* exceptfds,
               const struct timespec* timeout, const sigset_t* mask) {
    using Fn = int (*)(int, fd_set*, fd_set*, fd_set*, const struct timespec*, const sigset_t*);
    auto f = NUMAKEEP_NEXT(Fn, pselect);
    if (!f) return static_cast<int>(libc_result(-ENOSYS));
    auto* r = static_cast<fd_set*>(readfds);
    auto* w = static_cast<fd_set*>(writefds);
    auto* e = static_cast<fd_set*>(exceptfds);
    if (!mask || !round_target()) return f(nfds, r, w, e, timeout, mask);
    Stripped in(mask);
    return f(nfds, r, w, e, timeout, in.arg);
}

int on_epoll_pwait(int epfd, struct epoll_event* events, int maxevents, int timeout_ms,
                   const sigset_t* mask) {
    using Fn = int (*)(int, struct epoll_event*, int, int, const sigset_t*);
    auto f = NUMAKEEP_NEXT(Fn, epoll_pwait);
    if (!f) return static_cast<int>(libc_result(-ENOSYS));
    if (!mask || !round_target()) return f(epfd, events, maxevents, timeout_ms, mask);
    Stripped in(mask);
    return f(epfd, events, maxevents, timeout_ms, in.arg);
}

namespace {
struct CarriedStart {
    void* (*fn)(void*);
    void* arg;
};

void* believing_start(void* p) {
    CarriedStart start = *static_cast<CarriedStart*>(p);
    {
        ReentrancyGuard guard;
        std::free(p);
    }
    t_believes_blocked = true;
    return start.fn(start.arg);
}
}  // namespace

ThreadStartArgs carry_mask_belief(void* (*fn)(void*), void* arg) {
    if (!t_believes_blocked) return {fn, arg};
    void* p;
    {
        ReentrancyGuard guard;
        p = std::malloc(sizeof(CarriedStart));
    }
    if (!p) return {fn, arg};
    new (p) CarriedStart{fn, arg};
    return {believing_start, p};
}

void drop_carried_belief(const ThreadStartArgs& passed) {
    if (passed.fn != believing_start) return;
    ReentrancyGuard guard;
    std::free(passed.arg);
}

// A new image whose first thread has the signal blocked (an exec from a
// thread that blocked it, or a parent that blocked it before exec): that is
// the program's belief; the kernel's mask unblocks it, unless one is
// pending already (then it stays blocked, as without numakeep, and the
// thread is reported unreachable until the program unblocks it).
__attribute__((constructor)) void adopt_initial_mask() {
    const int sig = reserved_signal();
    std::uint64_t blocked = 0, pending = 0;
    if (raw(SYS_rt_sigprocmask, SIG_BLOCK, nullptr, &blocked, kSigsetBytes) != 0) return;
    if (!(blocked & bit(sig))) return;
    t_believes_blocked = true;
    if (raw(SYS_rt_sigpending, &pending, kSigsetBytes) != 0 || (pending & bit(sig))) return;
    {
        ViewWriter w;
        capture_view_locked();
        if (!g_dispatcher_installed.load(std::memory_order_acquire))
            install_dispatcher((read_view().flags & SA_ONSTACK) != 0);
    }
    std::uint64_t one = bit(sig);
    raw(SYS_rt_sigprocmask, SIG_UNBLOCK, &one, nullptr, kSigsetBytes);
}

}  // namespace numakeep::preload
