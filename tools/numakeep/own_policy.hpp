// SPDX-License-Identifier: MIT
// The CLI's own view of the kernel: the nodes this task may use now and its
// own task policy, read the way numactl --show reads them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "numakeep/nodemask.hpp"

namespace numakeep::cli {

// Mems_allowed_list of /proc/self/status (the kernel's cpuset_current_mems_allowed).
Nodemask read_mems_allowed();

struct OwnPolicy {
    std::uint16_t mode = 0;  // mode | flags, as get_mempolicy returns it
    Nodemask nodes;
};

// get_mempolicy(2) for the calling thread; nullopt (errno set) when it fails.
std::optional<OwnPolicy> read_own_policy();

// Parses a kernel node list ("0-3,7", "" for none); false on a malformed one.
bool parse_kernel_list(const std::string& text, Nodemask& out);

}  // namespace numakeep::cli
