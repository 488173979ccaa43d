// SPDX-License-Identifier: MIT
// The agent: one thread per process, started on the first recorded request
// (never in a program that asks for nothing), or at start-up with
// NUMAKEEP_AGENT=always (`numakeep run` sets it), so that `numakeep set`
// can reach a program that has asked for nothing yet. It connects to numakeepd,
// checks the peer is the daemon's uid before obeying anything, registers
// (Hello/Welcome), then serves Rebind and DumpRecords until the connection
// drops. With no daemon it sleeps on inotify until the socket appears; the
// program runs exactly as without numakeep meanwhile.
//
// Its descriptors are CLOEXEC and moved to high numbers; before every use
// it checks (fstat dev/ino) that the number still names its own socket, so
// a program that closes or dup2s over every descriptor neither breaks it
// nor gets written to by it.
#pragma once

#include <atomic>

namespace numakeep::preload {

// Starts the agent if it is not running and there is something to keep,
// once agent_allow_start() has been called (by our constructor: what
// libraries' constructors ask for before it is judged only then).
// Inline test first: every interposed mbind asks, right after its system
// call (see ensure_init()).
extern constinit std::atomic<bool> g_agent_started;
void agent_start_when_needed();
inline void agent_start_if_needed() {
    if (!g_agent_started.load(std::memory_order_acquire)) agent_start_when_needed();
}
void agent_allow_start();

// fork's child, inside fork (atfork handler): drops the inherited
// connection (the parent's agent thread does not exist here).
void agent_after_fork_child();
// fork's child, once fork() has returned into it (our fork shim): starts a
// fresh agent when there are records; it registers under the child's pid
// with the inherited generation. Not from the atfork handler: a thread
// created inside fork races the C library's and sanitizers' own post-fork
// bookkeeping.
void agent_start_in_child();

}  // namespace numakeep::preload
