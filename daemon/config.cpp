// SPDX-License-Identifier: MIT
#include "config.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace numakeep::daemon {

namespace {

constexpr std::string_view kLevelNames[] = {"trace", "debug",    "info", "warn",
                                            "error", "critical", "off"};

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

std::optional<bool> parse_bool(std::string_view v) {
    if (v == "yes" || v == "true" || v == "on" || v == "1") return true;
    if (v == "no" || v == "false" || v == "off" || v == "0") return false;
    return std::nullopt;
}

// A decimal number in [lo, hi]; nullopt otherwise.
std::optional<std::uint32_t> parse_uint(std::string_view v, std::uint32_t lo, std::uint32_t hi) {
    std::uint64_t out = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (ec != std::errc{} || end != v.data() + v.size() || out < lo || out > hi)
        return std::nullopt;
    return static_cast<std::uint32_t>(out);
}

// "/a/b" with no empty, "." or ".." components, no trailing '/' (except "/").
bool valid_cgroup_path(std::string_view p) {
    if (p.empty() || p.front() != '/') return false;
    if (p == "/") return true;
    if (p.back() == '/') return false;
    std::size_t at = 1;
    while (at <= p.size()) {
        std::size_t end = p.find('/', at);
        if (end == std::string_view::npos) end = p.size();
        std::string_view part = p.substr(at, end - at);
        if (part.empty() || part == "." || part == "..") return false;
        at = end + 1;
    }
    return true;
}

struct UintKey {
    std::string_view name;
    std::uint32_t Config::*field;
    std::uint32_t lo, hi;
};
constexpr UintKey kUintKeys[] = {
    {"reconcile_ms", &Config::reconcile_ms, 10, 3'600'000},
    {"rebind_timeout_ms", &Config::rebind_timeout_ms, 10, 600'000},
    {"max_connections_per_uid", &Config::max_connections_per_uid, 1, 1'000'000},
    {"max_connections", &Config::max_connections, 1, 1'000'000},
    {"max_concurrency", &Config::max_concurrency, 1, 100'000},
    {"message_timeout_ms", &Config::message_timeout_ms, 10, 600'000},
    {"max_output_kib", &Config::max_output_kib, 64, 1'048'576},
    {"show_timeout_ms", &Config::show_timeout_ms, 10, 600'000},
    {"placement_rate_mib", &Config::placement_rate_mib, 0, 1'000'000},
};

}  // namespace

std::string_view to_string(LogLevel l) {
    auto i = static_cast<std::size_t>(l);
    return i < std::size(kLevelNames) ? kLevelNames[i] : "?";
}

std::optional<LogLevel> parse_log_level(std::string_view s) {
    for (std::size_t i = 0; i < std::size(kLevelNames); ++i)
        if (kLevelNames[i] == s) return static_cast<LogLevel>(i);
    if (s == "warning") return LogLevel::Warn;
    return std::nullopt;
}

namespace {
bool prefix_matches(std::string_view p, std::string_view cgroup) {
    return p == "/" || cgroup == p ||
           (cgroup.size() > p.size() && cgroup.substr(0, p.size()) == p &&
            cgroup[p.size()] == '/');
}
template <typename T>
const T* longest_match(const std::vector<T>& list, std::string_view cgroup) {
    const T* best = nullptr;
    for (const auto& o : list)
        if (prefix_matches(o.cgroup_prefix, cgroup) &&
            (!best || o.cgroup_prefix.size() > best->cgroup_prefix.size()))
            best = &o;
    return best;
}
}  // namespace

Semantics Config::semantics_for(std::string_view cgroup) const {
    const SemanticsOverride* best = longest_match(overrides, cgroup);
    return best ? best->semantics : default_semantics;
}

bool Config::placement_for(std::string_view cgroup) const {
    const CgroupValue* best = longest_match(placement_overrides, cgroup);
    return best ? best->value != 0 : placement;
}

std::uint32_t Config::placement_rate_for(std::string_view cgroup) const {
    const CgroupValue* best = longest_match(placement_rate_overrides, cgroup);
    return best ? best->value : placement_rate_mib;
}

std::string ConfigError::message() const {
    if (line == 0) return file + ": " + reason;
    return file + ":" + std::to_string(line) + ": " + reason;
}

ConfigResult parse_config(std::string_view text, std::string_view file) {
    Config cfg;
    unsigned lineno = 0;
    auto error = [&](std::string reason) {
        return ConfigError{std::string(file), lineno, std::move(reason)};
    };
    while (!text.empty()) {
        ++lineno;
        std::size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        if (std::size_t hash = line.find('#'); hash != std::string_view::npos)
            line = line.substr(0, hash);
        line = trim(line);
        if (line.empty()) continue;

        std::size_t eq = line.find('=');
        if (eq == std::string_view::npos) return error("expected 'key = value'");
        std::string_view key = trim(line.substr(0, eq));
        std::string_view value = trim(line.substr(eq + 1));
        if (key.empty()) return error("missing key before '='");
        if (value.empty()) return error("missing value for '" + std::string(key) + "'");

        if (key.starts_with("override")) {
            std::string_view path = trim(key.substr(8));
            if (key.size() > 8 && key[8] != ' ' && key[8] != '\t')
                return error("unknown key '" + std::string(key) + "'");
            if (path.empty())
                return error("override needs a cgroup path: 'override /path = semantics'");
            if (!valid_cgroup_path(path))
                return error("bad cgroup path '" + std::string(path) +
                             "' (absolute, no empty, '.' or '..' parts, no trailing '/')");
            Semantics s;
            if (!parse_semantics(value, s))
                return error("unknown semantics '" + std::string(value) +
                             "' (intent, static, relative or kernel)");
            for (const auto& o : cfg.overrides)
                if (o.cgroup_prefix == path)
                    return error("override for '" + std::string(path) + "' given twice");
            cfg.overrides.push_back({std::string(path), s});
            continue;
        }
        // `placement /path = no`, `placement_rate_mib /path = 64`.
        if (std::size_t sp = key.find_first_of(" \t"); sp != std::string_view::npos) {
            std::string_view name = key.substr(0, sp);
            std::string_view path = trim(key.substr(sp));
            if (name != "placement" && name != "placement_rate_mib")
                return error("unknown key '" + std::string(key) + "'");
            if (!valid_cgroup_path(path))
                return error("bad cgroup path '" + std::string(path) +
                             "' (absolute, no empty, '.' or '..' parts, no trailing '/')");
            std::uint32_t v = 0;
            if (name == "placement") {
                auto b = parse_bool(value);
                if (!b) return error("'placement' wants yes or no, not '" + std::string(value) + "'");
                v = *b ? 1 : 0;
            } else {
                auto r = parse_uint(value, 0, 1'000'000);
                if (!r)
                    return error("'placement_rate_mib' wants a whole number from 0 to 1000000, "
                                 "not '" + std::string(value) + "'");
                v = *r;
            }
            auto& list = name == "placement" ? cfg.placement_overrides : cfg.placement_rate_overrides;
            for (const auto& o : list)
                if (o.cgroup_prefix == path)
                    return error(std::string(name) + " for '" + std::string(path) + "' given twice");
            list.push_back({std::string(path), v});
            continue;
        }
        if (key == "default_semantics") {
            if (!parse_semantics(value, cfg.default_semantics))
                return error("unknown semantics '" + std::string(value) +
                             "' (intent, static, relative or kernel)");
        } else if (key == "placement" || key == "move_pages" || key == "kernel_assist") {
            // move_pages: the old name of placement (it re-issued with
            // MPOL_MF_MOVE, which cannot bring pages back when the mems grow).
            auto b = parse_bool(value);
            if (!b)
                return error("'" + std::string(key) + "' wants yes or no, not '" +
                             std::string(value) + "'");
            (key == "kernel_assist" ? cfg.kernel_assist : cfg.placement) = *b;
        } else if (key == "log_level") {
            auto l = parse_log_level(value);
            if (!l)
                return error("unknown log level '" + std::string(value) +
                             "' (trace, debug, info, warn, error, critical, off)");
            cfg.log_level = *l;
        } else if (key == "cgroup_root") {
            if (value.front() != '/') return error("cgroup_root must be an absolute path");
            cfg.cgroup_root = std::string(value);
            while (cfg.cgroup_root.size() > 1 && cfg.cgroup_root.back() == '/')
                cfg.cgroup_root.pop_back();
        } else {
            const UintKey* k = nullptr;
            for (const auto& u : kUintKeys)
                if (u.name == key) k = &u;
            if (!k) return error("unknown key '" + std::string(key) + "'");
            auto v = parse_uint(value, k->lo, k->hi);
            if (!v)
                return error("'" + std::string(key) + "' wants a whole number from " +
                             std::to_string(k->lo) + " to " + std::to_string(k->hi) + ", not '" +
                             std::string(value) + "'");
            cfg.*(k->field) = *v;
        }
    }
    return cfg;
}

ConfigResult load_config(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return Config{};
        return ConfigError{path, 0, std::strerror(errno)};
    }
    std::string text;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int err = errno;
            ::close(fd);
            return ConfigError{path, 0, std::strerror(err)};
        }
        if (n == 0) break;
        text.append(buf, static_cast<std::size_t>(n));
        if (text.size() > (1U << 20)) {
            ::close(fd);
            return ConfigError{path, 0, "larger than 1 MiB"};
        }
    }
    ::close(fd);
    return parse_config(text, path);
}

}  // namespace numakeep::daemon
