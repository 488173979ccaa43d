// SPDX-License-Identifier: MIT
// What a program asked for: the vocabulary shared by the rule, the record
// store, the wire format and the CLI. Values are the kernel's UAPI values
// (numakeep/mpol.hpp) so a request can be re-issued verbatim.
#pragma once

#include <cstdint>
#include <string_view>

#include "numakeep/mpol.hpp"
#include "numakeep/nodemask.hpp"

namespace numakeep {

enum class Mode : std::uint16_t {
    Default = mpol::kDefault,
    Preferred = mpol::kPreferred,
    Bind = mpol::kBind,
    Interleave = mpol::kInterleave,
    Local = mpol::kLocal,
    PreferredMany = mpol::kPreferredMany,
    WeightedInterleave = mpol::kWeightedInterleave,
};
inline constexpr unsigned kModeCount = 7;

// Mode flags as the kernel encodes them in the high bits of `mode`.
inline constexpr std::uint16_t kFlagStaticNodes = mpol::kStaticNodes;
inline constexpr std::uint16_t kFlagRelativeNodes = mpol::kRelativeNodes;
inline constexpr std::uint16_t kFlagNumaBalancing = mpol::kNumaBalancing;
inline constexpr std::uint16_t kModeFlagsMask = mpol::kModeFlags;

// How a remembered request follows a cpuset change (DESIGN.md, "The rebind rule").
enum class Semantics : std::uint8_t { Intent = 0, Static = 1, Relative = 2, Kernel = 3 };

constexpr std::string_view to_string(Semantics s) {
    switch (s) {
        case Semantics::Intent: return "intent";
        case Semantics::Static: return "static";
        case Semantics::Relative: return "relative";
        case Semantics::Kernel: return "kernel";
    }
    return "?";
}
constexpr bool parse_semantics(std::string_view s, Semantics& out) {
    for (auto v : {Semantics::Intent, Semantics::Static, Semantics::Relative, Semantics::Kernel})
        if (to_string(v) == s) {
            out = v;
            return true;
        }
    return false;
}

constexpr std::string_view to_string(Mode m) {
    switch (m) {
        case Mode::Default: return "default";
        case Mode::Preferred: return "preferred";
        case Mode::Bind: return "bind";
        case Mode::Interleave: return "interleave";
        case Mode::Local: return "local";
        case Mode::PreferredMany: return "preferred_many";
        case Mode::WeightedInterleave: return "weighted_interleave";
    }
    return "?";
}

// One request as the program made it.
struct Request {
    Mode mode = Mode::Default;
    std::uint16_t flags = 0;  // kFlag* bits the program passed
    Nodemask nodes;           // nodes as passed (the program's U)
    int home_node = -1;       // set_mempolicy_home_node, -1 when none
    friend bool operator==(const Request&, const Request&) = default;
};

// A request together with the mems in force when it was made (M0), and
// who made it: 0 the program itself, else the id of the `numakeep set` that
// installed it (the runtime keeps who and when under that id). Two pieces
// of one range made by different requests never merge.
struct Recorded {
    Request request;
    Nodemask mems_at_request;
    std::uint32_t origin = 0;
    friend bool operator==(const Recorded&, const Recorded&) = default;
};

}  // namespace numakeep
