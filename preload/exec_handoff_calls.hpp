// SPDX-License-Identifier: MIT
// The exec handoff's exec calls: exec without a thread-rebind signal in
// flight, and with the task policy handed to the new image.
//
// The agent re-issues task policies by signalling each thread (see
// thread_rebind.hpp). A signal that is pending when a thread calls execve
// survives the exec (POSIX keeps pending signals and the mask), and in the
// new image our handler is gone: a real-time signal's default action
// terminates the process before its first instruction. Seen as memhog
// "killed by signal 64" under a forking bash while mems changed.
//
// So every exec goes through run_exec(): it takes the record lock, which a
// signal round holds from first tgkill to last answer (waiting for it lets
// the handler run, a mutex wait is interruptible by handlers), so no round
// is in flight and none can start; where the program blocks the rebind
// signal it drains one left pending by a round that timed out, and calls
// the real exec. It never changes the mask: the new image inherits the
// caller's, and a signal blocked here would stay blocked there (an exec
// that succeeds cannot restore it). Where the mems moved since the last
// rebind, it first issues the rule's task policy for the mems of now, the
// one thing of ours the new image inherits, and hands the request itself to
// the new image through the daemon (exec_handoff.hpp), in case the mems
// change again before the new image's runtime learns the policy. The
// program sees exactly the real call's result and errno.
#pragma once

namespace numakeep::preload {

// The exec family, each through run_exec(); they return only on failure,
// with the real call's result and errno. execv, execvp and the execl forms
// are built on these in shims.cpp exactly as glibc builds them.
int on_execve(const char* path, char* const argv[], char* const envp[]);
int on_execvpe(const char* file, char* const argv[], char* const envp[]);
int on_fexecve(int fd, char* const argv[], char* const envp[]);
int on_execveat(int dirfd, const char* path, char* const argv[], char* const envp[], int flags);

}  // namespace numakeep::preload
