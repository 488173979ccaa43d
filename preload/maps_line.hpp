// SPDX-License-Identifier: MIT
// One line of /proc/PID/maps (show_map_vma() in fs/proc/task_mmu.c):
// "start-end perms offset dev inode   path". Pure, no allocation: the
// respread (page_mover.cpp) reads the program's own map with it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace numakeep::preload {

struct MapsEntry {
    std::uint64_t start = 0;
    std::uint64_t end = 0;
    std::uint64_t offset = 0;  // bytes; 0 for anonymous memory (the kernel prints 0)
    std::uint64_t inode = 0;
    bool readable = false;
    bool writable = false;
    bool shared = false;   // 's': MAP_SHARED (shmem and files)
    std::string_view name;  // "", "[heap]", "[stack]", a path ...

    // Private memory with no file behind it: the heap, anonymous mmap().
    // Its vm_pgoff is its start page (do_mmap()), which maps does not show.
    bool private_anonymous() const {
        return !shared && inode == 0 && (name.empty() || name == "[heap]");
    }
};

namespace maps_detail {
constexpr bool hex_field(std::string_view& s, std::uint64_t& out) {
    out = 0;
    std::size_t i = 0;
    for (; i < s.size(); ++i) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = static_cast<unsigned>(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = static_cast<unsigned>(c - 'a' + 10);
        else
            break;
        out = out * 16 + d;
    }
    s.remove_prefix(i);
    return i > 0;
}
constexpr bool dec_field(std::string_view& s, std::uint64_t& out) {
    out = 0;
    std::size_t i = 0;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i)
        out = out * 10 + static_cast<std::uint64_t>(s[i] - '0');
    s.remove_prefix(i);
    return i > 0;
}
constexpr bool skip(std::string_view& s, char c) {
    if (s.empty() || s[0] != c) return false;
    s.remove_prefix(1);
    return true;
}
constexpr void skip_spaces(std::string_view& s) {
    while (!s.empty() && s[0] == ' ') s.remove_prefix(1);
}
}  // namespace maps_detail

// Parses one line without its newline; false when it is not a maps line.
constexpr bool parse_maps_line(std::string_view s, MapsEntry& e) {
    using namespace maps_detail;
    e = MapsEntry{};
    std::uint64_t dev = 0;
    if (!hex_field(s, e.start) || !skip(s, '-') || !hex_field(s, e.end) || !skip(s, ' '))
        return false;
    if (s.size() < 5) return false;
    e.readable = s[0] == 'r';
    e.writable = s[1] == 'w';
    e.shared = s[3] == 's';
    s.remove_prefix(4);
    if (!skip(s, ' ') || !hex_field(s, e.offset) || !skip(s, ' ')) return false;
    if (!hex_field(s, dev) || !skip(s, ':') || !hex_field(s, dev) || !skip(s, ' ')) return false;
    if (!dec_field(s, e.inode)) return false;
    skip_spaces(s);
    e.name = s;
    return e.start < e.end;
}

// The vmas of /proc/PID/smaps text into `out`, and into `huge` whether
// each holds any transparent huge page (AnonHugePages above 0): the mover
// reads its own process so, the CLI's placement tally another's.
inline void parse_smaps(std::string_view all, std::vector<MapsEntry>& out,
                        std::vector<bool>& huge) {
    constexpr std::string_view kAnonHuge = "AnonHugePages:";
    while (!all.empty()) {
        std::size_t nl = all.find('\n');
        std::string_view line = all.substr(0, nl);
        MapsEntry e;
        if (parse_maps_line(line, e)) {
            out.push_back(e);
            huge.push_back(false);
        } else if (!out.empty() && line.substr(0, kAnonHuge.size()) == kAnonHuge) {
            std::string_view v = line.substr(kAnonHuge.size());
            while (!v.empty() && v[0] == ' ') v.remove_prefix(1);
            huge.back() = !v.empty() && v[0] != '0';
        }
        if (nl == std::string_view::npos) break;
        all.remove_prefix(nl + 1);
    }
}

}  // namespace numakeep::preload
