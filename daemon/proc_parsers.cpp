// SPDX-License-Identifier: MIT
#include "proc_parsers.hpp"

#include <charconv>

namespace numakeep::daemon {

namespace {

std::string_view strip_newline(std::string_view s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
    return s;
}

// The line starting at `at`, without its newline; `at` moves past it.
std::string_view next_line(std::string_view text, std::size_t& at) {
    std::size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(at, end - at);
    at = end + 1;
    return line;
}

// Finds "Key:\t<value>" at a line start; the value without the newline.
std::optional<std::string_view> status_field(std::string_view status, std::string_view key) {
    std::size_t at = 0;
    while (at < status.size()) {
        std::string_view line = next_line(status, at);
        if (line.size() > key.size() && line.substr(0, key.size()) == key &&
            line[key.size()] == ':') {
            line.remove_prefix(key.size() + 1);
            while (!line.empty() && (line.front() == '\t' || line.front() == ' '))
                line.remove_prefix(1);
            return line;
        }
    }
    return std::nullopt;
}

}  // namespace

std::optional<Nodemask> parse_node_list(std::string_view s) {
    s = strip_newline(s);
    Nodemask m;
    std::size_t i = 0;
    auto number = [&](unsigned& out) {
        const char* begin = s.data() + i;
        const char* end = s.data() + s.size();
        if (begin == end || *begin < '0' || *begin > '9') return false;
        auto [p, ec] = std::from_chars(begin, end, out);
        if (ec != std::errc{} || out >= kMaxNodes) return false;
        i = static_cast<std::size_t>(p - s.data());
        return true;
    };
    while (i < s.size()) {
        unsigned lo = 0, hi = 0;
        if (!number(lo)) return std::nullopt;
        hi = lo;
        if (i < s.size() && s[i] == '-') {
            ++i;
            if (!number(hi) || hi < lo) return std::nullopt;
        }
        for (unsigned n = lo; n <= hi; ++n) m.set(n);
        if (i < s.size()) {
            if (s[i] != ',') return std::nullopt;
            if (++i == s.size()) return std::nullopt;
        }
    }
    return m;
}

std::optional<std::string> parse_proc_cgroup(std::string_view text) {
    std::size_t at = 0;
    while (at < text.size()) {
        std::string_view line = next_line(text, at);
        if (!line.starts_with("0::")) continue;
        line.remove_prefix(3);
        constexpr std::string_view kDeleted = " (deleted)";
        if (line.ends_with(kDeleted)) line.remove_suffix(kDeleted.size());
        if (line.empty() || line.front() != '/') return std::nullopt;
        return std::string(line);
    }
    return std::nullopt;
}

std::optional<Nodemask> parse_mems_allowed_list(std::string_view status) {
    auto v = status_field(status, "Mems_allowed_list");
    if (!v) return std::nullopt;
    return parse_node_list(*v);
}

std::optional<std::string> parse_stat_comm(std::string_view stat) {
    std::size_t open = stat.find('(');
    std::size_t close = stat.rfind(')');
    if (open == std::string_view::npos || close == std::string_view::npos || close < open)
        return std::nullopt;
    return std::string(stat.substr(open + 1, close - open - 1));
}

std::optional<std::vector<int>> parse_pid_list(std::string_view text) {
    std::vector<int> out;
    std::size_t at = 0;
    while (at < text.size()) {
        std::string_view line = next_line(text, at);
        if (line.empty()) continue;
        int pid = 0;
        auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), pid);
        if (ec != std::errc{} || p != line.data() + line.size() || pid <= 0) return std::nullopt;
        out.push_back(pid);
    }
    return out;
}

std::vector<std::string> cgroup_and_ancestors(std::string_view cgroup) {
    std::vector<std::string> out;
    std::string cur(cgroup);
    while (cur.size() > 1 && cur.back() == '/') cur.pop_back();
    for (;;) {
        out.push_back(cur);
        if (cur == "/" || cur.empty()) break;
        std::size_t slash = cur.rfind('/');
        if (slash == std::string::npos) break;  // a relative name has no ancestors
        cur = slash == 0 ? "/" : cur.substr(0, slash);
    }
    return out;
}

bool cgroup_within(std::string_view cgroup, std::string_view ancestor) {
    if (ancestor == "/") return !cgroup.empty() && cgroup.front() == '/';
    return cgroup == ancestor ||
           (cgroup.size() > ancestor.size() && cgroup.substr(0, ancestor.size()) == ancestor &&
            cgroup[ancestor.size()] == '/');
}

}  // namespace numakeep::daemon
