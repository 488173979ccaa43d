// SPDX-License-Identifier: MIT
// numactl-style task policy options for `numakeep run`: --interleave/-i,
// --membind/-m, --preferred/-p, --preferred-many/-P,
// --weighted-interleave/-w, --localalloc/-l, and the node lists they take.
//
// Node lists follow numactl(8): "0-3,7", "all" (every node of the current
// cpuset), "+0-1" (positions inside the current cpuset), "!1" (every allowed
// node except 1), numbers read as numactl reads them (strtoul). Anything
// else is an error that names the bad token.
#pragma once

#include <getopt.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "numakeep/nodemask.hpp"
#include "numakeep/policy.hpp"

namespace numakeep::cli {

struct NodeListResult {
    bool ok = false;
    Nodemask nodes;
    std::string error;  // when !ok: what is wrong, naming the bad token
};

// Parses a numactl node list against the nodes the caller may use now
// (Mems_allowed), with the core's parse_nodelist (numakeep/nodelist.hpp),
// and words its error for a person: the list, the bad token, the reason.
NodeListResult parse_node_list(std::string_view text, const Nodemask& allowed);

// The task policy `numakeep run` sets before exec.
struct TaskPolicy {
    bool given = false;  // a policy option was seen (only one may be, as in numactl)
    Mode mode = Mode::Default;
    Nodemask nodes;
    std::string option;  // "--interleave" etc., for messages
    std::string text;    // the node list as given
};

// Applies one policy option (a second one is an error, as numactl's
// "Conflicting policies"): `opt` is the short option letter (i, m, p, P,
// w, l), `arg` its node list (ignored for l). Throws CliError(Usage) with the
// bad token on a bad list or a list that does not fit the mode. Adds to
// `warnings` what numactl would have done silently.
void apply_policy_option(TaskPolicy& policy, char opt, std::string_view arg,
                         const Nodemask& allowed, std::vector<std::string>& warnings);

// The long options of `more`, after numactl's policy options (the letters
// apply_policy_option() takes), ending in getopt_long(3)'s zero entry.
std::vector<option> with_policy_options(std::initializer_list<option> more);
// getopt_long's short options for them.
inline constexpr const char* kPolicyShortOptions = "i:m:p:P:w:l";
// Whether getopt_long returned one of them.
bool is_policy_option(int c);

// Sets `policy` as the calling thread's task policy with set_mempolicy(2).
// Throws CliError(Usage) when the kernel refuses it.
void set_task_policy(const TaskPolicy& policy);

}  // namespace numakeep::cli
