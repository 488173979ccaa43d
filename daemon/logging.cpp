// SPDX-License-Identifier: MIT
#include "logging.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cstdlib>

#include "numakeep_config.h"

#if NUMAKEEP_HAVE_SYSTEMD
#include <spdlog/sinks/systemd_sink.h>
#include <systemd/sd-daemon.h>
#endif

namespace numakeep::daemon {

void setup_logging() {
    std::shared_ptr<spdlog::logger> logger;
#if NUMAKEEP_HAVE_SYSTEMD
    // systemd sets JOURNAL_STREAM when stdout/stderr go to the journal.
    if (std::getenv("JOURNAL_STREAM")) {
        auto sink = std::make_shared<spdlog::sinks::systemd_sink_mt>("numakeepd");
        logger = std::make_shared<spdlog::logger>("numakeepd", sink);
        logger->set_pattern("%v");
    }
#endif
    if (!logger) {
        logger = std::make_shared<spdlog::logger>(
            "numakeepd", std::make_shared<spdlog::sinks::stderr_sink_mt>());
        logger->set_pattern("%Y-%m-%d %H:%M:%S.%e numakeepd[%P] %l: %v");
    }
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(logger);
}

void set_log_level(LogLevel level) {
    spdlog::set_level(static_cast<spdlog::level::level_enum>(static_cast<int>(level)));
}

#if NUMAKEEP_HAVE_SYSTEMD
void notify_ready(const std::string& status) {
    sd_notify(0, ("READY=1\nSTATUS=" + status).c_str());
}
void notify_status(const std::string& status) {
    sd_notify(0, ("STATUS=" + status).c_str());
}
void notify_reloading() {
    sd_notify(0, "RELOADING=1");
}
void notify_stopping() {
    sd_notify(0, "STOPPING=1");
}
std::vector<int> activation_sockets() {
    std::vector<int> out;
    int n = sd_listen_fds(1);
    for (int i = 0; i < n; ++i) {
        int fd = SD_LISTEN_FDS_START + i;
        if (sd_is_socket_unix(fd, SOCK_STREAM, 1, nullptr, 0) > 0) out.push_back(fd);
    }
    return out;
}
#else
void notify_ready(const std::string&) {}
void notify_status(const std::string&) {}
void notify_reloading() {}
void notify_stopping() {}
std::vector<int> activation_sockets() {
    return {};
}
#endif

}  // namespace numakeep::daemon
