// SPDX-License-Identifier: MIT
// numakeepd's logging (spdlog) and its systemd touch points: journald when
// systemd started us, stderr otherwise; sd_notify READY/STATUS/RELOADING;
// sockets passed by socket activation.
#pragma once

#include <spdlog/common.h>

#include <string>
#include <string_view>
#include <vector>

#include "config.hpp"

namespace numakeep::daemon {

// Installs the default logger: journald when JOURNAL_STREAM says stderr is
// the journal (and libsystemd is built in), stderr otherwise.
void setup_logging();
void set_log_level(LogLevel level);

// What a line about one process is about, as journal fields a reader can
// filter on: journalctl -u numakeepd NUMAKEEP_PID=1234, NUMAKEEP_CGROUP=/a/b
// or NUMAKEEP_MEMS=0-1 (the mems the process is bound to now).
struct ProcessFields {
    int pid;
    std::string_view cgroup;
    std::string_view mems;
};
// Logs MESSAGE at LEVEL: to the journal with FIELDS beside MESSAGE when the
// journal is the log (sd_journal_send), else as the plain line alone.
void log_process(spdlog::level::level_enum level, const ProcessFields& fields,
                 const std::string& message);

// sd_notify(3) wrappers; no-ops without libsystemd or NOTIFY_SOCKET.
void notify_ready(const std::string& status);
void notify_status(const std::string& status);
void notify_reloading();
void notify_stopping();

// sd_listen_fds(3): the listening unix stream sockets systemd passed.
std::vector<int> activation_sockets();

}  // namespace numakeep::daemon
