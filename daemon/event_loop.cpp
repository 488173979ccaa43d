// SPDX-License-Identifier: MIT
#include "event_loop.hpp"

#include <signal.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace numakeep::daemon {

namespace {
[[noreturn]] void throw_errno(const char* what) {
    throw std::system_error(errno, std::generic_category(), what);
}
}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
}

void UniqueFd::reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
}

std::int64_t monotonic_ms() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

EventLoop::EventLoop() : epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (!epoll_) throw_errno("epoll_create1");
}

void EventLoop::add(int fd, std::uint32_t events, Handler handler) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) throw_errno("epoll_ctl(ADD)");
    handlers_[fd] = std::make_shared<Handler>(std::move(handler));
}

void EventLoop::modify(int fd, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) != 0) throw_errno("epoll_ctl(MOD)");
}

void EventLoop::remove(int fd) {
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
    handlers_.erase(fd);
}

bool EventLoop::run() {
    running_ = true;
    epoll_event events[64];
    while (running_) {
        int n = ::epoll_wait(epoll_.get(), events, 64, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        for (int i = 0; i < n && running_; ++i) {
            auto it = handlers_.find(events[i].data.fd);
            if (it == handlers_.end()) continue;  // removed by an earlier handler
            std::shared_ptr<Handler> h = it->second;
            (*h)(events[i].events);
        }
    }
    return true;
}

Timer::Timer(EventLoop& loop, std::function<void()> on_fire)
    : loop_(loop),
      fd_(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)),
      on_fire_(std::move(on_fire)) {
    if (!fd_) throw_errno("timerfd_create");
    loop_.add(fd_.get(), EPOLLIN, [this](std::uint32_t) {
        std::uint64_t expirations;
        if (::read(fd_.get(), &expirations, sizeof expirations) == sizeof expirations) on_fire_();
    });
}

Timer::~Timer() {
    loop_.remove(fd_.get());
}

namespace {
timespec to_timespec(std::int64_t ms) {
    return timespec{static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1'000'000};
}
}  // namespace

void Timer::arm_once(std::int64_t ms) {
    itimerspec its{};
    its.it_value = to_timespec(ms);
    ::timerfd_settime(fd_.get(), 0, &its, nullptr);
}

void Timer::arm_periodic(std::int64_t ms) {
    itimerspec its{};
    its.it_value = to_timespec(ms);
    its.it_interval = to_timespec(ms);
    ::timerfd_settime(fd_.get(), 0, &its, nullptr);
}

void Timer::arm_at(std::int64_t at_ms) {
    std::int64_t delay = at_ms - monotonic_ms();
    arm_once(delay < 1 ? 1 : delay);
}

SignalSource::SignalSource(EventLoop& loop, std::initializer_list<int> signals,
                           std::function<void(int)> on_signal)
    : loop_(loop), on_signal_(std::move(on_signal)) {
    sigset_t set;
    sigemptyset(&set);
    for (int s : signals) sigaddset(&set, s);
    if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0) throw_errno("sigprocmask");
    fd_.reset(::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
    if (!fd_) throw_errno("signalfd");
    loop_.add(fd_.get(), EPOLLIN, [this](std::uint32_t) {
        signalfd_siginfo si;
        while (::read(fd_.get(), &si, sizeof si) == sizeof si)
            on_signal_(static_cast<int>(si.ssi_signo));
    });
}

SignalSource::~SignalSource() {
    loop_.remove(fd_.get());
}

}  // namespace numakeep::daemon
