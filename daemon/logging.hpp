// SPDX-License-Identifier: MIT
// numakeepd's logging (spdlog) and its systemd touch points: journald when
// systemd started us, stderr otherwise; sd_notify READY/STATUS/RELOADING;
// sockets passed by socket activation.
#pragma once

#include <string>
#include <vector>

#include "config.hpp"

namespace numakeep::daemon {

// Installs the default logger: journald when JOURNAL_STREAM says stderr is
// the journal (and libsystemd is built in), stderr otherwise.
void setup_logging();
void set_log_level(LogLevel level);

// sd_notify(3) wrappers; no-ops without libsystemd or NOTIFY_SOCKET.
void notify_ready(const std::string& status);
void notify_status(const std::string& status);
void notify_reloading();
void notify_stopping();

// sd_listen_fds(3): the listening unix stream sockets systemd passed.
std::vector<int> activation_sockets();

}  // namespace numakeep::daemon
