// SPDX-License-Identifier: MIT
// pthread_atfork discipline. prepare takes the record lock (so a fork waits
// for a rebind in progress and the child never sees half an update);
// parent releases it; child re-creates it, keeps only the forking thread's
// record (the only thread that exists there) and drops the connection;
// the fork shim then starts the child's own agent, which registers under
// the child's pid with the generation it inherited.
//
// vfork and posix_spawn run no fork handlers: their child shares our memory
// until it execs, calls nothing of ours before that, and the program it
// execs starts its own runtime (a task policy inherited across exec is
// recorded at start-up). This is deliberate: nothing to do.
#pragma once

namespace numakeep::preload {

void install_fork_handlers();

}  // namespace numakeep::preload
