// SPDX-License-Identifier: MIT
// What the agents report of their respreads (PlacementDone): one log line
// per finished respread, and the daemon's counters behind `numakeep status`.
#pragma once

#include "control.hpp"
#include "numakeep/protocol.hpp"
#include "process_registry.hpp"

namespace numakeep::daemon {

void report_placement(Process& p, const proto::PlacementDone& done, Counters& counters);

}  // namespace numakeep::daemon
