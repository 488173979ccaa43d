// SPDX-License-Identifier: MIT
// The exec handoff, the runtime's two ends (include/numakeep/exec_handoff.hpp
// says why it exists; protocol.hpp, ExecHandoff, how it travels).
//
// Before the exec (exec_handoff_calls.cpp, run_exec()): the calling
// thread's task policy record (R, M0) goes to numakeepd on a connection of
// its own, kept open across the exec, whose close by the kernel tells the
// daemon the exec happened. Nothing of it is visible to the program: no
// environment variable, no descriptor that survives the exec.
//
// After it, in the new image (runtime.cpp, agent.cpp): the record learned
// from the inherited policy at start-up is noted; when the daemon sends the
// handoff right after Welcome, and that record is still untouched and of
// the mode the exec left, it becomes (R, M0). The Rebind that registering
// brings (a new image has applied no generation) then issues rule(R, M0,
// M_now).
#pragma once

#include "numakeep/protocol.hpp"
#include "record_keeper.hpp"

namespace numakeep::preload {

// Record lock held, right before the real exec, once run_exec() has left
// in the kernel what the new image is to inherit. Sends the handoff when
// the calling thread has a record plan_before_exec() re-issues (a request
// the rule re-issues, semantics not `kernel`); returns the connection to keep open across the exec, or -1
// (no daemon, nothing to hand over, any failure: the exec goes on as
// without it). Waits at most a few milliseconds for the daemon to say it
// stored it. errno unchanged.
int exec_handoff_begin();
// The exec failed: ExecHandoffCancel, then close. errno unchanged.
void exec_handoff_cancel(int fd);

// At start-up (record lock held): `tr` was just learned from the inherited
// task policy, get_mempolicy's `kernel_mode`.
void note_startup_policy(ThreadRecord* tr, int kernel_mode);
// Whether a start-up record still waits for a handoff (Hello's
// kHelloExecHandoff).
bool exec_handoff_wanted();
// The daemon's ExecHandoffDeliver (the agent thread; takes the record lock).
// True when the record was replaced.
bool adopt_exec_handoff(const proto::ExecHandoff& h);

}  // namespace numakeep::preload
