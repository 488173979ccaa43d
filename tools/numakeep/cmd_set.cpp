// SPDX-License-Identifier: MIT
// numakeep set: change the memory policy of running processes from outside.
// No kernel call does that for another process; numakeepd asks each
// target's agent (libnumakeep.so), which issues the policy inside its
// process as a request of the program's own, made under the mems of that
// moment (protocol.hpp, SetPolicy).
#include <getopt.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cli_error.hpp"
#include "commands.hpp"
#include "daemon_client.hpp"
#include "entry_format.hpp"
#include "json_writer.hpp"
#include "numakeep/policy.hpp"
#include "own_policy.hpp"
#include "policy_options.hpp"
#include "table.hpp"

namespace numakeep::cli {
namespace {

enum LongOnly {
    kDefault = 256,
    kRanges,
    kTask,
    kAll,
    kRange,
    kMove,
    kWait,
    kJson,
    kCgroup,
};

// How long the CLI waits for the daemon's answer: the daemon's own
// deadlines (set_request.cpp) answer first.
constexpr int kAnswerTimeoutS = 30;
constexpr int kMoveAnswerTimeoutS = 150;

const char* const kHint = "see `numakeep set --help`";

int parse_pid(std::string_view text) {
    int pid = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), pid);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || pid <= 0)
        throw CliError(ExitCode::Usage, "set: \"" + std::string(text) + "\" is not a process id",
                       "give PIDs from `numakeep ps`, or --cgroup PATH");
    return pid;
}

std::uint64_t parse_address(const std::string& text, const std::string& whole) {
    if (text.empty() || text[0] == '-' || text[0] == '+')
        throw CliError(ExitCode::Usage, "set: bad --range \"" + whole + "\"",
                       "give it as START-END, e.g. 0x7f0000000000-0x7f0000200000");
    char* end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(text.c_str(), &end, 0);
    if (errno || !end || *end)
        throw CliError(ExitCode::Usage, "set: bad address \"" + text + "\" in --range " + whole,
                       "give it as START-END, e.g. 0x7f0000000000-0x7f0000200000");
    return v;
}

// The exit status of several outcomes: the first kind of failure in the
// order 4, 3, 5, 6 (numakeep(1)).
ExitCode exit_of(int code) {
    switch (code) {
        case 0:
            return ExitCode::Ok;
        case EPERM:
        case EACCES:
            return ExitCode::PermissionDenied;
        case ESRCH:
        case ENOENT:
            return ExitCode::NoSuchProcess;
        case ETIMEDOUT:
            return ExitCode::ProcessSilent;
        default:
            return ExitCode::NotApplied;
    }
}
int rank(ExitCode c) {
    switch (c) {
        case ExitCode::PermissionDenied:
            return 4;
        case ExitCode::NoSuchProcess:
            return 3;
        case ExitCode::ProcessSilent:
            return 2;
        case ExitCode::NotApplied:
            return 1;
        default:
            return 0;
    }
}

std::string state_text(const proto::SetOutcome& o) {
    if (o.code) return "failed";
    return o.state == proto::kSetApplied ? "applied" : "sent";
}

std::string scope_text(std::uint8_t scope) {
    if (scope == (proto::kSetTask | proto::kSetRanges)) return "all";
    return scope == proto::kSetTask ? "task" : "ranges";
}

}  // namespace

int cmd_set(int argc, char** argv) {
    static const std::vector<option> kLong = with_policy_options({
        {"local", no_argument, nullptr, 'l'},
        {"default", no_argument, nullptr, kDefault},
        {"ranges", no_argument, nullptr, kRanges},
        {"task", no_argument, nullptr, kTask},
        {"all", no_argument, nullptr, kAll},
        {"range", required_argument, nullptr, kRange},
        {"move", no_argument, nullptr, kMove},
        {"wait", no_argument, nullptr, kWait},
        {"json", no_argument, nullptr, kJson},
        {"cgroup", required_argument, nullptr, kCgroup},
        {"help", no_argument, nullptr, 'h'},
    });
    // "all", "+" and "!" are read against this command's cpuset, as numactl
    // reads them: "all" from a command outside the target's cpuset means
    // every node, which the rule keeps as "the whole cpuset" of the target.
    const Nodemask allowed = read_mems_allowed();
    TaskPolicy policy;
    std::vector<std::string> warnings;
    proto::SetPolicy req;
    std::string cgroup, range_text;
    bool json = false;
    optind = 1;
    opterr = 0;
    int c;
    const std::string shorts = std::string(":") + kPolicyShortOptions + "h";
    while ((c = getopt_long(argc, argv, shorts.c_str(), kLong.data(), nullptr)) != -1) {
        if (is_policy_option(c)) {
            apply_policy_option(policy, static_cast<char>(c), optarg ? optarg : "", allowed,
                                warnings);
            continue;
        }
        switch (c) {
            case 'h':
                std::fputs(kSetHelp, stdout);
                std::fputs(kExitCodesHelp, stdout);
                return 0;
            case kDefault:
                if (policy.given)
                    throw CliError(ExitCode::Usage,
                                   "conflicting policies: --default after " + policy.option,
                                   "give one policy option, as with numactl");
                policy.given = true;
                policy.mode = Mode::Default;
                policy.option = "--default";
                break;
            case kRanges:
                req.scope |= proto::kSetRanges;
                break;
            case kTask:
                req.scope |= proto::kSetTask;
                break;
            case kAll:
                req.scope |= proto::kSetRanges | proto::kSetTask;
                break;
            case kMove:
                req.options |= proto::kSetMove;
                break;
            case kWait:
                req.options |= proto::kSetWait;
                break;
            case kJson:
                json = true;
                break;
            case kCgroup:
                cgroup = optarg ? optarg : "";
                if (cgroup.empty() || cgroup.size() >= sizeof req.cgroup)
                    throw CliError(ExitCode::Usage, "set: bad --cgroup \"" + cgroup + "\"",
                                   "give a cgroup path such as /system.slice/app.service");
                break;
            case kRange: {
                range_text = optarg ? optarg : "";
                std::size_t dash = range_text.find('-', 1);
                if (dash == std::string::npos)
                    throw CliError(ExitCode::Usage, "set: bad --range \"" + range_text + "\"",
                                   "give it as START-END, e.g. 0x7f0000000000-0x7f0000200000");
                req.range_start = parse_address(range_text.substr(0, dash), range_text);
                req.range_end = parse_address(range_text.substr(dash + 1), range_text);
                if (req.range_end <= req.range_start)
                    throw CliError(ExitCode::Usage,
                                   "set: --range " + range_text + " is empty or reversed");
                req.options |= proto::kSetRange;
                break;
            }
            case ':':
                throw CliError(ExitCode::Usage,
                               "set: option " + std::string(argv[optind - 1]) + " needs a value",
                               kHint);
            default: {
                std::string bad = optopt ? std::string("-") + static_cast<char>(optopt)
                                         : std::string(argv[optind - 1]);
                throw CliError(ExitCode::Usage, "set: unknown option " + bad, kHint);
            }
        }
    }
    if (!policy.given)
        throw CliError(ExitCode::Usage, "set: missing POLICY",
                       "give one of --interleave, --membind, --preferred, --preferred-many, "
                       "--weighted-interleave, --localalloc or --default");
    std::vector<int> pids;
    for (int i = optind; i < argc; ++i) pids.push_back(parse_pid(argv[i]));
    if (pids.empty() == cgroup.empty())
        throw CliError(ExitCode::Usage,
                       pids.empty() ? "set: missing PID or --cgroup PATH"
                                    : "set: give PIDs or --cgroup PATH, not both",
                       kHint);
    if (req.scope == 0)
        req.scope = (req.options & proto::kSetRange) ? proto::kSetRanges
                                                     : proto::kSetTask | proto::kSetRanges;
    if ((req.options & proto::kSetRange) && !(req.scope & proto::kSetRanges))
        throw CliError(ExitCode::Usage, "set: --range goes with --ranges or --all", kHint);
    for (const auto& w : warnings) warn(w);

    req.mode = static_cast<std::uint16_t>(policy.mode);
    if (policy.mode != Mode::Default && policy.mode != Mode::Local) req.nodes = policy.nodes;
    std::vector<proto::SetPolicy> requests;
    if (!cgroup.empty()) {
        std::memcpy(req.cgroup, cgroup.data(), cgroup.size());
        requests.push_back(req);
    }
    for (int pid : pids) {
        proto::SetPolicy r = req;
        r.pid = pid;
        requests.push_back(r);
    }

    DaemonClient client(daemon_socket_path());
    auto answers = client.set(
        requests, (req.options & proto::kSetMove) ? kMoveAnswerTimeoutS : kAnswerTimeoutS);

    ExitCode worst = ExitCode::Ok;
    auto note = [&](ExitCode e) {
        if (rank(e) > rank(worst)) worst = e;
    };
    std::vector<proto::SetOutcome> outcomes;
    std::vector<std::string> refusals;
    for (std::size_t i = 0; i < answers.size(); ++i) {
        const SetAnswer& a = answers[i];
        if (a.error) {
            note(a.error == EINVAL ? ExitCode::Usage : exit_of(a.error));
            refusals.push_back(a.message.empty() ? std::strerror(a.error) : a.message);
        }
        for (const auto& o : a.outcomes) {
            note(exit_of(o.code));
            outcomes.push_back(o);
        }
    }
    const std::string policy_text =
        mode_text(req.mode, req.flags) +
        (req.nodes.empty() ? std::string() : " " + nodes_text(req.nodes));
    if (json) {
        JsonWriter j;
        j.begin_object();
        j.key("schema").value("numakeep.set/1");
        j.key("policy").begin_object();
        j.key("mode").value(mode_text(req.mode, 0));
        j.key("nodes").value(req.nodes);
        j.end_object();
        j.key("scope").value(scope_text(req.scope));
        j.key("processes").begin_array();
        for (const auto& o : outcomes) {
            j.begin_object();
            j.key("pid").value(o.pid);
            j.key("comm").value(field_text(o.comm));
            j.key("outcome").value(state_text(o));
            j.key("error");
            if (o.code)
                j.value(errno_name(o.code));
            else
                j.null();
            j.key("message").value(field_text(o.message));
            j.key("ranges_set").value(o.applied.ranges_set);
            j.key("threads_set").value(o.applied.threads_set);
            j.key("threads_silent").value(o.applied.threads_silent);
            j.key("threads_unreachable").value(o.applied.threads_unreachable);
            j.key("moved").value(o.applied.moved != 0);
            j.key("pages_moved").value(o.applied.pages_moved);
            j.key("pages_skipped").value(o.applied.pages_skipped);
            j.end_object();
        }
        j.end_array();
        j.key("errors").begin_array();
        for (const auto& r : refusals) j.value(r);
        j.end_array();
        j.end_object();
        std::fputs(j.str().c_str(), stdout);
    } else {
        if (!outcomes.empty()) {
            Table t({{"PID", true},
                     {"COMMAND"},
                     {"OUTCOME"},
                     {"THREADS", true},
                     {"RANGES", true},
                     {"PAGES MOVED", true},
                     {"NOTE", false, true, 10}});
            for (const auto& o : outcomes)
                t.add_row(
                    {std::to_string(o.pid), field_text(o.comm).empty() ? "-" : field_text(o.comm),
                     state_text(o),
                     o.state == proto::kSetApplied ? std::to_string(o.applied.threads_set) : "-",
                     o.state == proto::kSetApplied ? std::to_string(o.applied.ranges_set) : "-",
                     o.applied.moved ? std::to_string(o.applied.pages_moved) : "-",
                     field_text(o.message).empty() ? "-" : field_text(o.message)});
            std::printf("set %s (%s):\n", policy_text.c_str(), scope_text(req.scope).c_str());
            std::fputs(t.render(terminal_width()).c_str(), stdout);
        }
    }
    for (const auto& r : refusals) std::fprintf(stderr, "numakeep: set: %s\n", r.c_str());
    for (const auto& o : outcomes) {
        if (!o.code) continue;
        std::string hint;
        if (o.code == ESRCH) hint = " (start it with `numakeep run [POLICY] -- COMMAND`)";
        if (o.code == EPERM) hint = " (run as root or as the process's owner)";
        std::fprintf(stderr, "numakeep: set: pid %d: %s%s\n", o.pid, field_text(o.message).c_str(),
                     hint.c_str());
    }
    return static_cast<int>(worst);
}

}  // namespace numakeep::cli
