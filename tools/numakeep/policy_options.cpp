// SPDX-License-Identifier: MIT
#include "policy_options.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "cli_error.hpp"

namespace numakeep::cli {
namespace {

std::string quoted(std::string_view s) {
    return "\"" + std::string(s) + "\"";
}

NodeListResult fail(std::string message) {
    NodeListResult r;
    r.error = std::move(message);
    return r;
}

// One decimal node number (numactl's get_nr): absolute, or with `relative`
// the position inside `allowed`. Returns -1 and sets `error` when bad.
int parse_node_number(std::string_view token, bool relative, const Nodemask& allowed,
                      std::string& error) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
    if (token.empty() || ec != std::errc{} || end != token.data() + token.size()) {
        if (ec == std::errc::result_out_of_range)
            error = quoted(token) + " is beyond the largest node number " +
                    std::to_string(kMaxNodes - 1);
        else
            error = quoted(token) + " is not a node number";
        return -1;
    }
    if (relative) {
        int node = allowed.nth(value);
        if (node < 0) {
            error = "relative node " + quoted(token) + " is beyond the " +
                    std::to_string(allowed.count()) + " nodes allowed now (" + allowed.to_string() +
                    ")";
            return -1;
        }
        return node;
    }
    if (value >= kMaxNodes) {
        error =
            quoted(token) + " is beyond the largest node number " + std::to_string(kMaxNodes - 1);
        return -1;
    }
    if (!allowed.test(value)) {
        error = "node " + quoted(token) + " is not allowed now (allowed: " +
                (allowed.empty() ? std::string("none") : allowed.to_string()) + ")";
        return -1;
    }
    return static_cast<int>(value);
}

}  // namespace

NodeListResult parse_node_list(std::string_view text, const Nodemask& allowed) {
    std::string_view s = text;
    bool invert = false, relative = false;
    if (!s.empty() && s.front() == '!') {
        invert = true;
        s.remove_prefix(1);
    }
    if (!s.empty() && s.front() == '+') {
        relative = true;
        s.remove_prefix(1);
    }
    Nodemask mask;
    // An empty list is numactl's "no node" (numactl --interleave= runs with
    // the default policy); the option decides what that means.
    bool more = !s.empty() || invert || relative;
    if (s.empty() && (invert || relative))
        return fail("node list " + quoted(text) + " names no node");
    while (more) {
        std::size_t comma = s.find(',');
        std::string_view item = s.substr(0, comma);
        more = comma != std::string_view::npos;
        s = more ? s.substr(comma + 1) : std::string_view{};
        if (item.empty()) return fail("node list " + quoted(text) + " has an empty item");
        if (item == "all") {
            // numactl takes "all" only as the last item ("0,all" works,
            // "all,0" does not).
            if (more)
                return fail("in node list " + quoted(text) + ": \"all\" must be the last item");
            mask |= allowed;
            break;
        }
        std::string error;
        std::size_t dash = item.find('-');
        if (dash == std::string_view::npos) {
            int node = parse_node_number(item, relative, allowed, error);
            if (node < 0) return fail("in node list " + quoted(text) + ": " + error);
            mask.set(static_cast<unsigned>(node));
            continue;
        }
        std::string_view lo_text = item.substr(0, dash), hi_text = item.substr(dash + 1);
        if (lo_text.empty() || hi_text.empty())
            return fail("in node list " + quoted(text) + ": " + quoted(item) +
                        " is not a range (write A-B)");
        int lo = parse_node_number(lo_text, relative, allowed, error);
        int hi = lo < 0 ? -1 : parse_node_number(hi_text, relative, allowed, error);
        if (lo < 0 || hi < 0) return fail("in node list " + quoted(text) + ": " + error);
        if (lo > hi)
            return fail("in node list " + quoted(text) + ": range " + quoted(item) +
                        " goes backwards");
        // Like numactl, a range takes only the allowed nodes between its ends.
        mask |= Nodemask::range(static_cast<unsigned>(lo), static_cast<unsigned>(hi)) & allowed;
    }
    NodeListResult r;
    r.ok = true;
    // "All nodes except": inverted inside the nodes allowed now, so the
    // request never names a node the cpuset refuses.
    r.nodes = invert ? allowed - mask : mask;
    return r;
}

void apply_policy_option(TaskPolicy& policy, char opt, std::string_view arg,
                         const Nodemask& allowed, std::vector<std::string>& warnings) {
    struct OptionInfo {
        char letter;
        const char* name;
        Mode mode;
    };
    static constexpr OptionInfo kOptions[] = {
        {'i', "--interleave", Mode::Interleave},
        {'m', "--membind", Mode::Bind},
        {'p', "--preferred", Mode::Preferred},
        {'P', "--preferred-many", Mode::PreferredMany},
        {'w', "--weighted-interleave", Mode::WeightedInterleave},
        {'l', "--localalloc", Mode::Local},
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
