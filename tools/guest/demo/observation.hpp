// SPDX-License-Identifier: MIT
// What a workload reports to the driver, one text line per answer over a
// pipe: its policies as the kernel holds them and its Mems_allowed, or where
// the pages of a fresh fault landed.
//
//   policies  "P <mode>:<flags>:<nodes> x5 <mems_allowed>"   (nodes "-" = none)
//   pages     "G <pages on the plan's 1st node> ... <4th> <not present>"
#pragma once

#include <array>
#include <cstdio>
#include <optional>
#include <sstream>
#include <string>

#include "demo_plan.hpp"
#include "guest.hpp"

namespace numakeep::demo {

// At most four nodes: the plan's (demo_plan.hpp), by position.
inline constexpr unsigned kNodes = 4;

struct Observation {
    std::array<guest::PolicyReadback, kPolicyCount> policies;
    Nodemask mems_allowed;
};

struct PageSplit {
    std::array<unsigned long, kNodes> per_node{};
    unsigned long not_present = 0;
    unsigned nodes_used() const {
        unsigned k = 0;
        for (auto p : per_node) k += p > 0;
        return k;
    }
};

inline std::string nodes_field(const Nodemask& m) {
    return m.empty() ? "-" : m.to_string();
}
inline std::optional<Nodemask> parse_nodes_field(const std::string& s) {
    if (s == "-") return Nodemask{};
    return guest::parse_nodes(s);
}

inline std::string format(const Observation& o) {
    std::string s = "P";
    for (const auto& p : o.policies)
        s += ' ' + std::to_string(static_cast<unsigned>(p.mode)) + ':' + std::to_string(p.flags) +
             ':' + nodes_field(p.nodes);
    return s + ' ' + nodes_field(o.mems_allowed);
}

inline std::optional<Observation> parse_observation(const std::string& line) {
    std::istringstream in(line);
    std::string tag;
    if (!(in >> tag) || tag != "P") return std::nullopt;
    Observation o;
    for (auto& p : o.policies) {
        std::string field;
        unsigned mode = 0, flags = 0;
        char nodes[4096];
        if (!(in >> field) || std::sscanf(field.c_str(), "%u:%u:%4095s", &mode, &flags, nodes) != 3)
            return std::nullopt;
        auto m = parse_nodes_field(nodes);
        if (!m || mode >= kModeCount) return std::nullopt;
        p = {static_cast<Mode>(mode), static_cast<std::uint16_t>(flags), *m};
    }
    std::string mems;
    if (!(in >> mems)) return std::nullopt;
    auto m = parse_nodes_field(mems);
    if (!m) return std::nullopt;
    o.mems_allowed = *m;
    return o;
}

inline std::string format(const PageSplit& g) {
    std::string s = "G";
    for (auto p : g.per_node) s += ' ' + std::to_string(p);
    return s + ' ' + std::to_string(g.not_present);
}

inline std::optional<PageSplit> parse_page_split(const std::string& line) {
    std::istringstream in(line);
    std::string tag;
    if (!(in >> tag) || tag != "G") return std::nullopt;
    PageSplit g;
    for (auto& p : g.per_node)
        if (!(in >> p)) return std::nullopt;
    if (!(in >> g.not_present)) return std::nullopt;
    return g;
}

}  // namespace numakeep::demo
