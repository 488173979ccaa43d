// SPDX-License-Identifier: MIT
#include "processes.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace numakeep::demo {

namespace {

// Waits for a child for up to `timeout`, then kills it.
void reap(pid_t pid, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (::waitpid(pid, nullptr, WNOHANG) == pid) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
}
}  // namespace

WorkloadCopy::WorkloadCopy(std::string label, const std::string& preload)
    : label_(std::move(label)) {
    int down[2], up[2];
    if (::pipe2(down, O_CLOEXEC) != 0) return;
    if (::pipe2(up, O_CLOEXEC) != 0) {
        ::close(down[0]);
        ::close(down[1]);
        return;
    }
    // Everything the child needs is prepared before fork.
    std::vector<std::string> env_store;
    for (char** e = environ; *e; ++e)
        if (std::strncmp(*e, "LD_PRELOAD=", 11) != 0) env_store.emplace_back(*e);
    if (!preload.empty()) env_store.push_back("LD_PRELOAD=" + preload);
    std::vector<char*> envp;
    for (auto& e : env_store) envp.push_back(e.data());
    envp.push_back(nullptr);
    // The real path, not /proc/self/exe, so the copy's comm (what numakeepd
    // and ps show) is numakeep-demo.
    char self[4096];
    ssize_t len = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        for (int fd : {down[0], down[1], up[0], up[1]}) ::close(fd);
        return;
    }
    self[len] = '\0';
    char arg0[] = "numakeep-demo";
    char arg1[] = "workload";
    char* argv[] = {arg0, arg1, nullptr};

    pid_ = ::fork();
    if (pid_ == 0) {
        ::dup2(down[0], STDIN_FILENO);
        ::dup2(up[1], STDOUT_FILENO);
        ::execve(self, argv, envp.data());
        _exit(127);
    }
    ::close(down[0]);
    ::close(up[1]);
    to_ = down[1];
    from_ = up[0];
    if (pid_ < 0) {
        ::close(to_);
        ::close(from_);
        to_ = from_ = -1;
        return;
    }
    reader_.emplace(from_);
}

WorkloadCopy::~WorkloadCopy() {
    if (to_ >= 0) ::close(to_);  // end of input: the workload exits
    if (from_ >= 0) ::close(from_);
    if (pid_ > 0) reap(pid_, std::chrono::seconds(2));
}

bool WorkloadCopy::wait_ready(std::chrono::milliseconds timeout) {
    if (!reader_) return false;
    auto line = reader_->next(timeout);
    return line && *line == "ready";
}

std::optional<std::string> WorkloadCopy::ask(const std::string& command,
                                             std::chrono::milliseconds timeout) {
    if (!reader_ || !write_line(to_, command)) return std::nullopt;
    return reader_->next(timeout);
}

bool Daemon::start(const std::string& program, const std::string& socket, const std::string& log,
                   std::chrono::milliseconds timeout) {
    ::unlink(socket.c_str());
    pid_ = ::fork();
    if (pid_ < 0) {
        error_ = std::string("fork: ") + std::strerror(errno);
        return false;
    }
    if (pid_ == 0) {
        int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) {
            ::dup2(fd, STDOUT_FILENO);
            ::dup2(fd, STDERR_FILENO);
        }
        ::execl(program.c_str(), "numakeepd", "--foreground", "--socket", socket.c_str(),
                static_cast<char*>(nullptr));
        _exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        struct stat st;
        if (::stat(socket.c_str(), &st) == 0) return true;
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            error_ = "numakeepd exited before its socket appeared (log: " + log + ")";
            return false;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            error_ = "no socket " + socket + " after " + std::to_string(timeout.count()) +
                     " ms (log: " + log + ")";
            stop();
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

void Daemon::stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    reap(pid_, std::chrono::seconds(2));
    pid_ = -1;
}

std::string find_on_path(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
    std::size_t at = 0;
    while (at <= dirs.size()) {
        std::size_t end = dirs.find(':', at);
        if (end == std::string::npos) end = dirs.size();
        std::string candidate = dirs.substr(at, end - at) + "/" + name;
        if (end > at && ::access(candidate.c_str(), X_OK) == 0) return candidate;
        at = end + 1;
    }
    return "";
}

}  // namespace numakeep::demo
