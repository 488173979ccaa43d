// SPDX-License-Identifier: MIT
// Lines over a pipe with read(2)/write(2) and EINTR retries: the workload
// may run under libnumakeep.so, whose rebinds can interrupt a blocked read,
// and stdio would hide that behind a sticky error.
#pragma once

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace numakeep::demo {

inline bool write_line(int fd, std::string_view text) {
    std::string line(text);
    line += '\n';
    std::size_t done = 0;
    while (done < line.size()) {
        ssize_t n = ::write(fd, line.data() + done, line.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

class LineReader {
  public:
    explicit LineReader(int fd) : fd_(fd) {}
    // The next line without its newline; nullopt at end of file, on error,
    // or when `timeout` passes first.
    std::optional<std::string> next(
        std::chrono::milliseconds timeout = std::chrono::milliseconds(-1)) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            if (auto nl = buf_.find('\n'); nl != std::string::npos) {
                std::string line = buf_.substr(0, nl);
                buf_.erase(0, nl + 1);
                return line;
            }
            if (timeout.count() >= 0) {
                auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now());
                if (left.count() <= 0) return std::nullopt;
                pollfd p{fd_, POLLIN, 0};
                int r = ::poll(&p, 1, static_cast<int>(left.count()));
                if (r < 0 && errno == EINTR) continue;
                if (r <= 0) return std::nullopt;
            }
            char chunk[512];
            ssize_t n = ::read(fd_, chunk, sizeof chunk);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return std::nullopt;
            buf_.append(chunk, static_cast<std::size_t>(n));
        }
    }

  private:
    int fd_;
    std::string buf_;
};

}  // namespace numakeep::demo
