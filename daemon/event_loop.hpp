// SPDX-License-Identifier: MIT
// A single-threaded epoll loop: file descriptors with callbacks, timers as
// timerfds, signals as a signalfd. numakeepd does everything on this one
// thread, so its state needs no locks.
#pragma once

#include <sys/epoll.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <unordered_map>

namespace numakeep::daemon {

// Owns a file descriptor; closes it on destruction.
class UniqueFd {
  public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
    UniqueFd& operator=(UniqueFd&& o) noexcept;
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }
    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    int release() {
        int fd = fd_;
        fd_ = -1;
        return fd;
    }
    void reset(int fd = -1);

  private:
    int fd_ = -1;
};

// Milliseconds on CLOCK_MONOTONIC.
std::int64_t monotonic_ms();

class EventLoop {
  public:
    using Handler = std::function<void(std::uint32_t events)>;

    EventLoop();
    // Watches fd for `events` (EPOLLIN, EPOLLOUT, ...); throws on failure.
    void add(int fd, std::uint32_t events, Handler handler);
    void modify(int fd, std::uint32_t events);
    // Safe from inside a handler, even the fd's own.
    void remove(int fd);

    // Runs until stop(); returns false when epoll_wait failed.
    bool run();
    void stop() { running_ = false; }

  private:
    UniqueFd epoll_;
    bool running_ = false;
    // shared_ptr: a handler that removes itself stays alive until it returns.
    std::unordered_map<int, std::shared_ptr<Handler>> handlers_;
};

// A timerfd on CLOCK_MONOTONIC registered with the loop.
class Timer {
  public:
    Timer(EventLoop& loop, std::function<void()> on_fire);
    ~Timer();
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;
    // Fires once after `ms` (0: disarm).
    void arm_once(std::int64_t ms);
    // Fires every `ms`.
    void arm_periodic(std::int64_t ms);
    // Fires once at the monotonic time `at_ms` (or at once if past).
    void arm_at(std::int64_t at_ms);
    void disarm() { arm_once(0); }

  private:
    EventLoop& loop_;
    UniqueFd fd_;
    std::function<void()> on_fire_;
};

// Blocks the given signals and delivers them through a signalfd.
class SignalSource {
  public:
    SignalSource(EventLoop& loop, std::initializer_list<int> signals,
                 std::function<void(int signo)> on_signal);
    ~SignalSource();
    SignalSource(const SignalSource&) = delete;
    SignalSource& operator=(const SignalSource&) = delete;

  private:
    EventLoop& loop_;
    UniqueFd fd_;
    std::function<void(int)> on_signal_;
};

}  // namespace numakeep::daemon
