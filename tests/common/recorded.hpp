// SPDX-License-Identifier: MIT
// A record as the runtime keeps it, built in one expression: the request
// as the program made it and the mems it was made under. Shared by the
// record store's unit tests and the agent_frames fuzz target
// (tests/fuzz/fuzz_agent_frames.cpp).
#pragma once

#include <cstdint>

#include "numakeep/range_store.hpp"

namespace numakeep::test {

inline Recorded recorded(Mode mode, Nodemask nodes, Nodemask mems, int home_node = -1,
                         std::uint16_t flags = 0) {
    Recorded r;
    r.request.mode = mode;
    r.request.flags = flags;
    r.request.nodes = nodes;
    r.request.home_node = home_node;
    r.mems_at_request = mems;
    return r;
}

}  // namespace numakeep::test
