// SPDX-License-Identifier: MIT
// How the numakeep CLI fails: every error carries what went wrong, what to
// do about it, and the documented exit code (numakeep(1), EXIT STATUS).
#pragma once

#include <stdexcept>
#include <string>

namespace numakeep::cli {

// Exit codes, documented in every --help and in numakeep(1).
enum class ExitCode : int {
    Ok = 0,
    Usage = 1,              // bad option, bad node list, bad argument
    DaemonUnreachable = 2,  // numakeepd not running, not answering, or misbehaving
    NoSuchProcess = 3,      // no such pid, or the pid is not under numakeep
    PermissionDenied = 4,   // another user's process, or the socket is not ours
    ProcessSilent = 5,      // the process's agent did not answer in time
    NotApplied = 6,         // set: the kernel refused the policy, or it took only partly
    CannotExecute = 126,    // run: COMMAND found but could not be executed
    CommandNotFound = 127,  // run: COMMAND not found
};

class CliError : public std::runtime_error {
  public:
    CliError(ExitCode code, std::string what, std::string hint = {})
        : std::runtime_error(std::move(what)), code_(code), hint_(std::move(hint)) {}
    ExitCode code() const { return code_; }
    // What to do about it, or empty.
    const std::string& hint() const { return hint_; }

  private:
    ExitCode code_;
    std::string hint_;
};

// Prints "numakeep: WHAT" and, when there is one, "numakeep: HINT" on stderr.
void print_error(const CliError& e);
// Prints "numakeep: warning: TEXT" on stderr.
void warn(const std::string& text);

}  // namespace numakeep::cli
