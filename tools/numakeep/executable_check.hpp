// SPDX-License-Identifier: MIT
// What `numakeep run` checks about COMMAND before exec: LD_PRELOAD cannot
// reach a statically linked program (no PT_INTERP: the dynamic loader never
// runs) nor a set-uid/set-gid one (the loader runs it in secure mode and
// ignores a preload given by path, ld.so(8)).
#pragma once

#include <optional>
#include <string>

namespace numakeep::cli {

struct ExecutableInfo {
    std::string path;  // as execvp would run it
    bool is_elf = false;
    bool has_interpreter = false;  // ELF with PT_INTERP: dynamically linked
    bool is_script = false;        // starts with "#!"
    bool setuid = false;
    bool setgid = false;
};

// Finds COMMAND the way execvp(3) does (a name with a slash as is, else the
// first executable match in PATH). Empty when nothing is found.
std::string find_in_path(const std::string& command);

// Reads the file's mode and ELF program headers. nullopt when it cannot be
// opened (exec will report why).
std::optional<ExecutableInfo> inspect_executable(const std::string& path);

// The warnings `run` prints for it (empty when LD_PRELOAD will work).
std::string preload_warning(const ExecutableInfo& info);

}  // namespace numakeep::cli
