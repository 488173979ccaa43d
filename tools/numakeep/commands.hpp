// SPDX-License-Identifier: MIT
// The numakeep subcommands. Each takes its own argv (argv[0] is the
// subcommand's name), prints its answer, and returns the exit code; errors
// are thrown as CliError and printed by main.
#pragma once

namespace numakeep::cli {

int cmd_run(int argc, char** argv);
int cmd_ps(int argc, char** argv);
int cmd_show(int argc, char** argv);
int cmd_status(int argc, char** argv);
int cmd_set(int argc, char** argv);

// The --help texts (help_text.cpp).
extern const char* const kMainHelp;
extern const char* const kRunHelp;
extern const char* const kPsHelp;
extern const char* const kShowHelp;
extern const char* const kStatusHelp;
extern const char* const kSetHelp;
extern const char* const kExitCodesHelp;

// Options shared by the read commands (ps, show, status).
struct ReadOptions {
    bool json = false;
    bool help = false;
    const char* operand = nullptr;  // show's PID
};
// Parses --json, --help and (when `takes_operand`) one operand; throws
// CliError(Usage) on anything else.
ReadOptions parse_read_options(int argc, char** argv, bool takes_operand);

}  // namespace numakeep::cli
