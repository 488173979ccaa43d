// SPDX-License-Identifier: MIT
// The demo's workload: a program that asks for the DESIGN.md policies the
// ordinary way (libnuma's mbind/set_mempolicy, which libnumakeep.so
// interposes when preloaded) and then answers the driver's questions.
#pragma once

namespace numakeep::demo {

// Runs the workload on stdin/stdout. Commands, one a line:
//   report  -> one "P ..." line: every policy and Mems_allowed (observation.hpp)
//   fault   -> faults 64 MiB in the interleaved range and answers one
//              "G ..." line, then gives those pages back (MADV_DONTNEED,
//              the policy stays) so later steps have nothing to migrate
// End of input ends it. Prints "ready" once its policies are in place.
int run_workload();

}  // namespace numakeep::demo
