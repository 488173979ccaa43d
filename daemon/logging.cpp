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
#include <systemd/sd-journal.h>
#include <syslog.h>
#endif

namespace numakeep::daemon {

namespace {
// Set by setup_logging when the journal is the log.
bool logging_to_journal = false;
}  // namespace

void setup_logging() {
    std::shared_ptr<spdlog::logger> logger;
#if NUMAKEEP_HAVE_SYSTEMD
    // systemd sets JOURNAL_STREAM when stdout/stderr go to the journal.
    if (std::getenv("JOURNAL_STREAM")) {
        auto sink = std::make_shared<spdlog::sinks::systemd_sink_mt>("numakeepd");
        logger = std::make_shared<spdlog::logger>("numakeepd", sink);
        logger->set_pattern("%v");
        logging_to_journal = true;
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

void log_process(spdlog::level::level_enum level, const ProcessFields& fields,
                 const std::string& message) {
    if (!spdlog::should_log(level)) return;
#if NUMAKEEP_HAVE_SYSTEMD
    if (logging_to_journal) {
        // The priorities spdlog's systemd_sink gives the same levels.
        int priority = level >= spdlog::level::critical ? LOG_CRIT
                       : level == spdlog::level::err    ? LOG_ERR
                       : level == spdlog::level::warn   ? LOG_WARNING
                       : level == spdlog::level::info   ? LOG_INFO
                                                        : LOG_DEBUG;
        sd_journal_send("MESSAGE=%s", message.c_str(), "PRIORITY=%d", priority,
                        "SYSLOG_IDENTIFIER=numakeepd", "NUMAKEEP_PID=%d", fields.pid,
                        "NUMAKEEP_CGROUP=%.*s", static_cast<int>(fields.cgroup.size()),
                        fields.cgroup.data(), "NUMAKEEP_MEMS=%.*s",
                        static_cast<int>(fields.mems.size()), fields.mems.data(), nullptr);
        return;
    }
#endif
    spdlog::log(level, "{}", message);
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
