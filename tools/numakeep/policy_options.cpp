// SPDX-License-Identifier: MIT
#include "policy_options.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "cli_error.hpp"
#include "numakeep/nodelist.hpp"

namespace numakeep::cli {
NodeListResult parse_node_list(std::string_view text, const Nodemask& allowed) {
    // numactl's own grammar, strtoul quirks included, lives in the core
    // (include/numakeep/nodelist.hpp) so the CLI accepts what numactl accepts.
    ParseResult parsed = parse_nodelist(text, allowed);
    NodeListResult r;
    r.ok = parsed.ok;
    r.nodes = parsed.nodes;
    if (!parsed.ok) {
        r.error = "bad node list \"" + std::string(text) + "\": \"" +
                  std::string(parsed.error.token) + "\" (at offset " +
                  std::to_string(parsed.error.offset) + "): " + parsed.error.message;
        if (std::string_view(parsed.error.message).find("allowed") != std::string_view::npos)
            r.error +=
                " (allowed now: " + (allowed.empty() ? std::string("none") : allowed.to_string()) +
                ")";
    }
    return r;
}

std::vector<option> with_policy_options(std::initializer_list<option> more) {
    std::vector<option> all = {
        {"interleave", required_argument, nullptr, 'i'},
        {"membind", required_argument, nullptr, 'm'},
        {"preferred", required_argument, nullptr, 'p'},
        {"preferred-many", required_argument, nullptr, 'P'},
        {"weighted-interleave", required_argument, nullptr, 'w'},
        {"localalloc", no_argument, nullptr, 'l'},
    };
    all.insert(all.end(), more);
    all.push_back({nullptr, 0, nullptr, 0});
    return all;
}

bool is_policy_option(int c) {
    return c == 'i' || c == 'm' || c == 'p' || c == 'P' || c == 'w' || c == 'l';
}

void apply_policy_option(TaskPolicy& policy, char opt, std::string_view arg,
                         const Nodemask& allowed, std::vector<std::string>& warnings) {
    struct OptionInfo {
        const char* name;
        Mode mode;
        char letter;
    };
    static constexpr OptionInfo kOptions[] = {
        {"--interleave", Mode::Interleave, 'i'},
        {"--membind", Mode::Bind, 'm'},
        {"--preferred", Mode::Preferred, 'p'},
        {"--preferred-many", Mode::PreferredMany, 'P'},
        {"--weighted-interleave", Mode::WeightedInterleave, 'w'},
        {"--localalloc", Mode::Local, 'l'},
    };
    const OptionInfo* info = nullptr;
    for (const auto& o : kOptions)
        if (o.letter == opt) info = &o;
    if (!info) throw CliError(ExitCode::Usage, std::string("not a policy option: -") + opt);

    if (policy.given)
        throw CliError(
            ExitCode::Usage,
            "conflicting policies: " + std::string(info->name) + " after " + policy.option,
            "give one policy option, as with numactl");
    TaskPolicy next;
    next.given = true;
    next.mode = info->mode;
    next.option = info->name;
    if (info->mode != Mode::Local) {
        next.text = std::string(arg);
        NodeListResult r = parse_node_list(arg, allowed);
        if (!r.ok)
            throw CliError(ExitCode::Usage, std::string(info->name) + ": " + r.error,
                           "node lists look like 0-3,7, all, +0-1 (inside the current cpuset) "
                           "or !1 (all but 1); see numakeep(1)");
        next.nodes = r.nodes;
        if (next.nodes.empty()) {
            if (info->mode == Mode::Interleave) {
                // numactl (libnuma's numa_set_interleave_mask) silently sets
                // the default policy for an empty interleave set; do the same,
                // but say so.
                warnings.push_back("--interleave=" + next.text +
                                   " selects no node: running with the default policy, as "
                                   "numactl does");
                next.mode = Mode::Default;
            } else {
                throw CliError(ExitCode::Usage,
                               std::string(info->name) + ": node list \"" + next.text +
                                   "\" selects no node (allowed now: " +
                                   (allowed.empty() ? "none" : allowed.to_string()) + ")");
            }
        }
        if (info->mode == Mode::Preferred && next.nodes.count() != 1)
            throw CliError(ExitCode::Usage,
                           "--preferred takes exactly one node, \"" + next.text + "\" gives " +
                               next.nodes.to_string(),
                           "use --preferred-many for several nodes");
    }
    policy = next;
}

void set_task_policy(const TaskPolicy& policy) {
    if (!policy.given) return;
    // The raw syscall: the CLI itself never runs under libnumakeep.so, and
    // the policy must reach the kernel exactly as given (the runtime reads
    // it back with get_mempolicy at start-up and records it).
    const unsigned long* nodes = nullptr;
    unsigned long maxnode = 0;
    if (policy.mode != Mode::Default && policy.mode != Mode::Local) {
        nodes = policy.nodes.kernel_data();
        maxnode = Nodemask::kKernelMaxnode;
    }
    if (syscall(SYS_set_mempolicy, static_cast<int>(policy.mode), nodes, maxnode) == 0) return;
    int err = errno;
    std::string what = std::string(policy.option) + (policy.text.empty() ? "" : "=" + policy.text) +
                       ": set_mempolicy(" + std::string(to_string(policy.mode)) + ", " +
                       (nodes ? policy.nodes.to_string() : std::string("-")) +
                       ") failed: " + std::strerror(err);
    std::string hint;
    if (err == EINVAL && policy.mode == Mode::WeightedInterleave)
        hint = "this kernel has no weighted interleave (Linux 6.9 added it)";
    else if (err == EINVAL && policy.mode == Mode::PreferredMany)
        hint = "this kernel may have no preferred-many policy (Linux 5.15 added it)";
    else if (err == EINVAL)
        hint = "the nodes must have memory and be inside the current cpuset";
    throw CliError(ExitCode::Usage, what, hint);
}

}  // namespace numakeep::cli
