// SPDX-License-Identifier: MIT
// numakeep run: set the task policy as numactl would, put libnumakeep.so on
// LD_PRELOAD, and exec COMMAND in place. The runtime reads the inherited
// task policy with get_mempolicy at start-up and records it as the main
// thread's request, so nothing else has to be passed along.
#include <getopt.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cli_error.hpp"
#include "commands.hpp"
#include "executable_check.hpp"
#include "numakeep/policy.hpp"
#include "numakeep_config.h"
#include "own_policy.hpp"
#include "policy_options.hpp"

namespace numakeep::cli {
namespace {

enum LongOnly { kSemanticsOption = 256 };

// LD_PRELOAD with `lib` appended, unless it is already there. ld.so(8)
// splits the list on spaces and colons.
std::string append_preload(const char* existing, const std::string& lib) {
    std::string list = existing ? existing : "";
    std::size_t pos = 0;
    while (pos <= list.size()) {
        std::size_t end = list.find_first_of(" :", pos);
        if (end == std::string::npos) end = list.size();
        if (list.compare(pos, end - pos, lib) == 0 && end - pos == lib.size()) return list;
        pos = end + 1;
    }
    if (list.find_first_not_of(" :") == std::string::npos) return lib;
    return list + ":" + lib;
}

}  // namespace

int cmd_run(int argc, char** argv) {
    static const std::vector<option> kLong = with_policy_options({
        {"semantics", required_argument, nullptr, kSemanticsOption},
        {"help", no_argument, nullptr, 'h'},
    });
    const std::string hint = "see `numakeep run --help`";
    const Nodemask allowed = read_mems_allowed();
    TaskPolicy policy;
    std::vector<std::string> warnings;
    const char* semantics = nullptr;
    optind = 1;
    opterr = 0;
    int c;
    // "+": stop at COMMAND, so its own options stay its own (as numactl).
    const std::string shorts = std::string("+:") + kPolicyShortOptions + "h";
    while ((c = getopt_long(argc, argv, shorts.c_str(), kLong.data(), nullptr)) != -1) {
        if (is_policy_option(c)) {
            apply_policy_option(policy, static_cast<char>(c), optarg ? optarg : "", allowed,
                                warnings);
            continue;
        }
        switch (c) {
            case 'h':
                std::fputs(kRunHelp, stdout);
                std::fputs(kExitCodesHelp, stdout);
                return 0;
            case kSemanticsOption: {
                Semantics s;
                std::string_view value = optarg ? optarg : "";
                if (!parse_semantics(value, s))
                    throw CliError(ExitCode::Usage,
                                   "run: unknown semantics \"" + std::string(value) + "\"",
                                   "use intent, static, relative or kernel");
                semantics = optarg;
                break;
            }
            case ':':
                throw CliError(
                    ExitCode::Usage,
                    "run: option " + std::string(argv[optind - 1]) + " needs a node list", hint);
            default: {
                std::string bad = optopt ? std::string("-") + static_cast<char>(optopt)
                                         : std::string(argv[optind - 1]);
                throw CliError(ExitCode::Usage, "run: unknown option " + bad,
                               "run takes numactl's memory policy options; for CPU binding "
                               "use `numakeep run -- numactl --cpunodebind=N COMMAND`");
            }
        }
    }
    if (optind >= argc) throw CliError(ExitCode::Usage, "run: missing COMMAND", hint);
    char** command = argv + optind;

    std::string path = find_in_path(command[0]);
    if (path.empty())
        throw CliError(ExitCode::CommandNotFound,
                       std::string("run: ") + command[0] + ": command not found",
                       "check PATH, or give the command's path");
    if (auto info = inspect_executable(path)) {
        std::string w = preload_warning(*info);
        if (!w.empty()) warnings.push_back(w);
    }

    const char* preload_env = std::getenv("NUMAKEEP_PRELOAD");
    std::string preload = preload_env && *preload_env ? preload_env : NUMAKEEP_PRELOAD_PATH;
    if (access(preload.c_str(), R_OK) != 0)
        warnings.push_back(preload + " is missing (" + std::strerror(errno) + "): " + command[0] +
                           " runs without numakeep; NUMAKEEP_PRELOAD names another libnumakeep.so");
    std::string ld_preload = append_preload(std::getenv("LD_PRELOAD"), preload);
    // The agent connects at start-up, so that `numakeep set` can reach
    // COMMAND before it asks for any policy of its own.
    if (setenv("LD_PRELOAD", ld_preload.c_str(), 1) != 0 ||
        setenv("NUMAKEEP_AGENT", "always", 0) != 0 ||
        (semantics && setenv("NUMAKEEP_SEMANTICS", semantics, 1) != 0))
        throw CliError(ExitCode::Usage,
                       std::string("run: cannot set the environment: ") + std::strerror(errno));
    for (const auto& w : warnings) warn(w);

    set_task_policy(policy);
    std::fflush(stdout);
    execvp(command[0], command);
    int err = errno;
    throw CliError(err == ENOENT ? ExitCode::CommandNotFound : ExitCode::CannotExecute,
                   std::string("run: cannot execute ") + command[0] + ": " + std::strerror(err));
}

}  // namespace numakeep::cli
