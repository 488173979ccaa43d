// SPDX-License-Identifier: MIT
// numakeep: the numactl-style command line of numakeep. Dispatches to the
// subcommands (commands.hpp) and turns their CliErrors into a message on
// stderr and the documented exit code.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string_view>

#include "cli_error.hpp"
#include "commands.hpp"
#include "numakeep_config.h"

namespace numakeep::cli {

void print_error(const CliError& e) {
    std::fprintf(stderr, "numakeep: %s\n", e.what());
    if (!e.hint().empty()) std::fprintf(stderr, "numakeep: %s\n", e.hint().c_str());
}

void warn(const std::string& text) {
    std::fprintf(stderr, "numakeep: warning: %s\n", text.c_str());
}

namespace {

int dispatch(int argc, char** argv) {
    if (argc < 2)
        throw CliError(ExitCode::Usage, "missing command (run, ps, show, status or set)",
                       "see `numakeep --help`");
    std::string_view cmd = argv[1];
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
        std::fputs(kMainHelp, stdout);
        std::fputs(kExitCodesHelp, stdout);
        return 0;
    }
    if (cmd == "--version" || cmd == "-V") {
        std::printf("numakeep %s\n", NUMAKEEP_VERSION);
        return 0;
    }
    struct Command {
        std::string_view name;
        int (*run)(int, char**);
    };
    static constexpr Command kCommands[] = {
        {"run", cmd_run}, {"ps", cmd_ps}, {"show", cmd_show}, {"status", cmd_status},
        {"set", cmd_set}};
    for (const auto& c : kCommands)
        if (c.name == cmd) return c.run(argc - 1, argv + 1);
    throw CliError(ExitCode::Usage,
                   "unknown command \"" + std::string(cmd) + "\" (run, ps, show, status or set)",
                   "see `numakeep --help`");
}

}  // namespace
}  // namespace numakeep::cli

int main(int argc, char** argv) {
    using namespace numakeep::cli;
    try {
        int rc = dispatch(argc, argv);
        if (std::fflush(stdout) != 0) {
            std::fprintf(stderr, "numakeep: cannot write the output: %s\n", std::strerror(errno));
            return 1;
        }
        return rc;
    } catch (const CliError& e) {
        std::fflush(stdout);
        print_error(e);
        return static_cast<int>(e.code());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "numakeep: %s\n", e.what());
        return 1;
    }
}
