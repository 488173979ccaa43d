// SPDX-License-Identifier: MIT
// The processes the demo driver runs: workload copies it talks to over
// pipes, and numakeepd.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>

#include "line_pipe.hpp"

namespace numakeep::demo {

// One copy of the workload (this program, "workload" mode) with its stdin
// and stdout on pipes. `preload` non-empty runs it under LD_PRELOAD=preload.
class WorkloadCopy {
  public:
    WorkloadCopy(std::string label, const std::string& preload);
    WorkloadCopy(const WorkloadCopy&) = delete;
    WorkloadCopy& operator=(const WorkloadCopy&) = delete;
    ~WorkloadCopy();

    const std::string& label() const { return label_; }
    bool started() const { return pid_ > 0; }
    // Waits for the workload's "ready".
    bool wait_ready(std::chrono::milliseconds timeout);
    // Sends one command and returns the answer line.
    std::optional<std::string> ask(const std::string& command,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(30));

  private:
    std::string label_;
    pid_t pid_ = -1;
    int to_ = -1;
    int from_ = -1;
    std::optional<LineReader> reader_;
};

// numakeepd in the foreground as a child, its output in a log file.
class Daemon {
  public:
    // Starts `program` and waits up to `timeout` for its socket to appear.
    // On failure, error() says why.
    bool start(const std::string& program, const std::string& socket, const std::string& log,
               std::chrono::milliseconds timeout);
    void stop();
    ~Daemon() { stop(); }
    const std::string& error() const { return error_; }

  private:
    pid_t pid_ = -1;
    std::string error_;
};

// The first executable `name` on PATH, or "".
std::string find_on_path(const std::string& name);

}  // namespace numakeep::demo
