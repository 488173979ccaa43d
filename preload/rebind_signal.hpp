// SPDX-License-Identifier: MIT
// numakeep's rebind signal, reserved the way glibc reserves SIGCANCEL and
// SIGSETXID for itself: the program can neither see, nor handle, nor block
// it, though every call it makes on it behaves as if numakeep were absent.
//
// - Which: SIGRTMAX, fixed for the life of the process (the shims must know
//   it before the first round, and so must a program's first sigaction).
// - Invisible: sigaction() and its relatives on it read and write the
//   program's own view (what the kernel held when we first looked: SIG_DFL,
//   or SIG_IGN inherited across exec). The kernel holds numakeep's
//   dispatcher, which runs numakeep's work for numakeep's own sends and the
//   program's action, with the program's flags and mask, for everyone
//   else's.
// - Told apart by sender and token, never by guessing: numakeep sends with
//   rt_tgsigqueueinfo() to its own process, si_code SI_QUEUE, si_pid our
//   pid and a per-process random token in si_value. A program's own
//   sigqueue()/pthread_kill() cannot carry the token
//   (do_rt_tgsigqueueinfo() lets a process choose si_code and si_value only
//   for itself; kill() and tgkill() fill them in).
// - Unblockable in effect: the mask calls take it out of the set they pass
//   and give the program back the mask it set (a per-thread belief, in
//   initial-exec TLS, inherited by the threads it creates). Waits that a
//   rebind's signal interrupts (EINTR where only numakeep's signal ran) are
//   resumed with what is left of their timeout.
// - What the program can still do: block it with an inline rt_sigprocmask
//   system call, which no shim sees. Such a thread is found by its SigBlk
//   line in /proc/self/task/TID/status and left out of the round
//   (thread_blocks_rebind_signal()).
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <cstdint>

struct pollfd;
struct epoll_event;

namespace numakeep::preload {

// SIGRTMAX.
int reserved_signal();

// numakeep's work for one of its own signals, on the signalled thread.
using OwnSignalWork = void (*)();

// Installs the dispatcher (once; idempotent) with `own` as numakeep's work
// (nullptr: none yet, the program blocked the signal before any round).
// False when the kernel refuses (then no round can run).
bool reserve_rebind_signal(OwnSignalWork own);

// Sends numakeep's signal to thread `tid` of process `pid` (our own), with
// the token. Returns 0 or -errno (-ESRCH: the thread is gone).
long send_rebind_signal(pid_t pid, pid_t tid);

// Whether thread `tid` holds the signal pending and blocked (its SigPnd
// and SigBlk lines): it cannot take a round until it unblocks it.
bool thread_blocks_rebind_signal(pid_t tid);

// Per-thread counts of the signal's deliveries, for the waits' shims: a
// wait interrupted only by numakeep's own signal is resumed.
struct SignalTally {
    std::uint32_t own = 0;
    std::uint32_t program = 0;
};
SignalTally signal_tally();
bool only_own_signal_since(const SignalTally& before);

// The program's side: the cores of the shims (shims.cpp). Each returns
// exactly what the real call returns, with its errno; on any other signal
// than the reserved one they only forward.
int on_sigaction(int sig, const struct sigaction* act, struct sigaction* old);
// syscall(SYS_rt_sigaction, ...): the kernel's struct, raw result.
long on_rt_sigaction_syscall(long sig, long act, long old, long sigsetsize);
long on_rt_sigprocmask_syscall(long how, long set, long old, long sigsetsize);
sighandler_t on_signal(int sig, sighandler_t handler, bool sysv);
sighandler_t on_sigset(int sig, sighandler_t disp);
int on_sigprocmask(int how, const sigset_t* set, sigset_t* old);
int on_pthread_sigmask(int how, const sigset_t* set, sigset_t* old);
int on_sigsuspend(const sigset_t* mask);
int on_sigwait(const sigset_t* set, int* sig);
int on_sigwaitinfo(const sigset_t* set, siginfo_t* info);
int on_sigtimedwait(const sigset_t* set, siginfo_t* info, const struct timespec* timeout);
int on_signalfd(int fd, const sigset_t* mask, int flags);
int on_ppoll(struct pollfd* fds, unsigned long nfds, const struct timespec* timeout,
             const sigset_t* mask);
int on_pselect(int nfds, void* readfds, void* writefds, void* exceptfds,
               const struct timespec* timeout, const sigset_t* mask);
int on_epoll_pwait(int epfd, struct epoll_event* events, int maxevents, int timeout_ms,
                   const sigset_t* mask);

// pthread_create: the new thread believes what its creator believes.
// Returns the start routine and argument to pass to the real
// pthread_create (a trampoline when the belief must travel, else fn/arg).
struct ThreadStartArgs {
    void* (*fn)(void*);
    void* arg;
};
ThreadStartArgs carry_mask_belief(void* (*fn)(void*), void* arg);
void drop_carried_belief(const ThreadStartArgs& passed);  // pthread_create failed

}  // namespace numakeep::preload
