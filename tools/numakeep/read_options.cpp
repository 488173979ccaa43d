// SPDX-License-Identifier: MIT
#include <getopt.h>

#include <string>

#include "cli_error.hpp"
#include "commands.hpp"

namespace numakeep::cli {

ReadOptions parse_read_options(int argc, char** argv, bool takes_operand) {
    static const option kLong[] = {
        {"json", no_argument, nullptr, 'J'},
        {"help", no_argument, nullptr, 'h'},
        {nullptr, 0, nullptr, 0},
    };
    std::string cmd = argv[0];
    std::string hint = "see `numakeep " + cmd + " --help`";
    ReadOptions o;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", kLong, nullptr)) != -1) {
        switch (c) {
            case 'J':
                o.json = true;
                break;
            case 'h':
                o.help = true;
                break;
            default: {
                std::string bad = optopt ? std::string("-") + static_cast<char>(optopt)
                                         : std::string(argv[optind - 1]);
                throw CliError(ExitCode::Usage, cmd + ": unknown option " + bad, hint);
            }
        }
    }
    if (optind < argc) {
        if (!takes_operand)
            throw CliError(ExitCode::Usage,
                           cmd + ": unexpected argument \"" + std::string(argv[optind]) + "\"",
                           hint);
        o.operand = argv[optind++];
        if (optind < argc)
            throw CliError(ExitCode::Usage,
                           cmd + ": unexpected argument \"" + std::string(argv[optind]) + "\"",
                           hint);
    }
    return o;
}

}  // namespace numakeep::cli
