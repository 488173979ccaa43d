// SPDX-License-Identifier: MIT
#include "own_policy.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>

#include "numakeep/nodelist.hpp"

namespace numakeep::cli {

bool parse_kernel_list(const std::string& text, Nodemask& out) {
    ParseResult r = parse_kernel_nodelist(text);
    if (!r.ok) return false;
    out = r.nodes;
    return true;
}

Nodemask read_mems_allowed() {
    std::ifstream status("/proc/self/status");
    std::string line;
    const std::string key = "Mems_allowed_list:";
    while (std::getline(status, line)) {
        if (line.compare(0, key.size(), key) != 0) continue;
        std::size_t b = line.find_first_not_of(" \t", key.size());
        Nodemask m;
        if (b != std::string::npos && parse_kernel_list(line.substr(b), m)) return m;
        break;
    }
    // No cpuset information (a kernel without CONFIG_CPUSETS): node 0.
    return Nodemask{0};
}

std::optional<OwnPolicy> read_own_policy() {
    int mode = 0;
    Nodemask nodes;
    if (syscall(SYS_get_mempolicy, &mode, nodes.kernel_data(), Nodemask::kKernelMaxnode - 1,
                nullptr, 0UL) != 0)
        return std::nullopt;
    OwnPolicy p;
    p.mode = static_cast<std::uint16_t>(mode);
    p.nodes = nodes;
    return p;
}

}  // namespace numakeep::cli
