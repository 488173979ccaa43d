// SPDX-License-Identifier: MIT
// Node lists as people and the kernel write them.
//
// parse_nodelist(): what numactl accepts on its command line (libnuma's
//   numa_parse_nodestring / numa_parse_nodestring_all, the parser behind
//   `numactl --interleave=...`), against the set of nodes the caller allows:
//     "0-3,7"    absolute nodes and inclusive ranges
//     "all"      every allowed node (only as the last element)
//     "+0-1"     positions inside the allowed set ("the first two")
//     "!0-1"     the allowed nodes except these ("!+0" inverts a relative list)
//   Numbers are read as strtoul(s, &end, 0) reads them, as libnuma does:
//   leading whitespace, an optional sign, 0x-hex and 0-octal ("010" is 8,
//   "08" is an error, "-0" is 0, "0, 1" is 0-1 but "0 ,1" is not); both ends
//   of a range must be allowed nodes, the nodes between them that are not
//   allowed are skipped. The empty string is the empty set.
//   Deliberate differences from libnuma 2.0.16, where numactl's answer is a
//   silent surprise: a reversed range ("3-1") is an error here, where libnuma
//   takes it as "3"; "!" complements within `allowed`, where libnuma
//   complements within 0..numa_num_configured_nodes()-1; device names
//   (libnuma's resolve_affinity: "netdev:eth0", "file:/x", ...) are
//   rejected: they need I/O, and this parser is pure.
//
// parse_kernel_nodelist(): the kernel's list format, bitmap_parselist() in
//   lib/bitmap.c with MAX_NUMNODES bits, as /proc/PID/status
//   Mems_allowed_list, cpuset.mems and cpuset.mems.effective are written and
//   read: "0-3,7", regions separated by commas or whitespace, an optional
//   "a-b:used/group" stride ("0-1023:2/256" is 0,1,256,257,...), "N" for the
//   last node, "all"; a newline ends the list (the rest is ignored, as in
//   the kernel). No "+", no "!". Checked in the 6.1 guest by writing
//   cpuset.cpus (the same parser over nr_cpu_ids bits): "all", "N", "1-N",
//   "ALL:1/2", "1,,3", " 1 2" and "0-3:1/2N" (0,2,3) are taken, "3-1",
//   "+1" and "0x1" refused.
//
// Both are pure and allocation-free: errors point into the caller's text.
// Formatting is Nodemask::format_into() / to_string() ("0-3,7", the form
// both parsers read back).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "numakeep/nodemask.hpp"

namespace numakeep {

// Why a node list was refused: the offending token (a view into the text
// that was parsed: valid as long as that text is), where it starts, and a
// static message.
struct NodelistError {
    std::string_view token;
    std::size_t offset = 0;
    const char* message = "";
};

// Either the nodes or the error; never both.
struct ParseResult {
    bool ok = false;
    Nodemask nodes;
    NodelistError error;
    constexpr explicit operator bool() const { return ok; }
};

// Writes "bad node list token 'TOKEN' at offset N: MESSAGE" into buf
// (NUL-terminated, truncated to cap-1); returns the length. No allocation.
inline std::size_t format_error_into(const NodelistError& e, char* buf, std::size_t cap) {
    std::size_t len = 0;
    auto put = [&](char c) {
        if (len + 1 < cap) buf[len++] = c;
    };
    auto puts = [&](std::string_view s) {
        for (char c : s) put(c);
    };
    puts("bad node list token '");
    for (char c : e.token) put(static_cast<unsigned char>(c) < 0x20 ? '?' : c);
    puts("' at offset ");
    char digits[24];
    int k = 0;
    std::size_t v = e.offset;
    do {
        digits[k++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v);
    while (k) put(digits[--k]);
    puts(": ");
    puts(e.message);
    if (cap) buf[len] = '\0';
    return len;
}

namespace nodelist_detail {

constexpr bool is_space(char c) {  // C isspace() in the "C" locale
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}
constexpr bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
constexpr int digit_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return 99;
}

// strtoul(s, &end, 0) over text[pos..]: returns the position after the
// number (== pos when there is none, as strtoul sets end = s). The value
// saturates at UINT64_MAX on overflow and is negated for a '-' sign, both
// as strtoul does on a 64-bit long.
constexpr std::size_t read_strtoul(std::string_view text, std::size_t pos, std::uint64_t& value) {
    std::size_t p = pos;
    while (p < text.size() && is_space(text[p])) ++p;
    bool negative = false;
    if (p < text.size() && (text[p] == '+' || text[p] == '-')) negative = text[p++] == '-';
    unsigned base = 10;
    if (p < text.size() && text[p] == '0') {
        base = 8;
        if (p + 2 < text.size() && (text[p + 1] == 'x' || text[p + 1] == 'X') &&
            digit_value(text[p + 2]) < 16) {
            base = 16;
            p += 2;
        }
    }
    std::size_t digits_start = p;
    std::uint64_t v = 0;
    bool overflow = false;
    while (p < text.size() && digit_value(text[p]) < static_cast<int>(base)) {
        auto d = static_cast<std::uint64_t>(digit_value(text[p]));
        if (v > (UINT64_MAX - d) / base) overflow = true;
        v = v * base + d;
        ++p;
    }
    if (p == digits_start) return pos;  // no digits at all: nothing parsed
    value = overflow ? UINT64_MAX : (negative ? std::uint64_t{0} - v : v);
    return p;
}

// The end of the element starting at pos: the next ',' or the end.
constexpr std::size_t element_end(std::string_view text, std::size_t pos) {
    std::size_t p = pos;
    while (p < text.size() && text[p] != ',') ++p;
    return p;
}

constexpr ParseResult fail(std::string_view text, std::size_t from, std::size_t to,
                           const char* message) {
    ParseResult r;
    r.error = NodelistError{text.substr(from, to - from), from, message};
    return r;
}

}  // namespace nodelist_detail

// numactl's node list against `allowed` (the mems of the task for
// numa_parse_nodestring, the possible nodes for numa_parse_nodestring_all).
constexpr ParseResult parse_nodelist(std::string_view text, const Nodemask& allowed) {
    using namespace nodelist_detail;
    ParseResult r;
    if (text.empty()) {
        r.ok = true;
        return r;
    }
    std::size_t pos = 0;
    const bool invert = text[pos] == '!';
    if (invert) ++pos;
    const bool relative = pos < text.size() && text[pos] == '+';
    if (relative) ++pos;

    // One end of a range: a number, read as a node or as a position inside
    // `allowed` (libnuma's get_nr), that must name an allowed node.
    auto read_node = [&](std::size_t at, std::size_t& after, unsigned& node,
                         ParseResult& err) -> bool {
        std::uint64_t v = 0;
        after = read_strtoul(text, at, v);
        if (after == at) {
            if (at == text.size())
                err = fail(text, 0, text.size(), "a node number is missing at the end");
            else if (at == element_end(text, at))
                err = fail(text, at, at + 1, "empty element: a node number is missing");
            else
                err = fail(text, at, element_end(text, at), "not a node number");
            return false;
        }
        if (relative) {
            int n = v < kMaxNodes ? allowed.nth(static_cast<unsigned>(v)) : -1;
            if (n < 0) {
                err = fail(text, at, after, "relative position beyond the allowed nodes");
                return false;
            }
            node = static_cast<unsigned>(n);
            return true;
        }
        if (v >= kMaxNodes) {
            err = fail(text, at, after, "node number out of range (nodes are 0-1023)");
            return false;
        }
        if (!allowed.test(static_cast<unsigned>(v))) {
            err = fail(text, at, after, "node is not among the allowed nodes");
            return false;
        }
        node = static_cast<unsigned>(v);
        return true;
    };

    Nodemask mask;
    for (;;) {
        const std::size_t start = pos;
        if (pos < text.size() && is_alpha(text[pos])) {
            if (text.substr(pos) == "all") {  // libnuma: strcmp(s, "all"), the rest of the list
                mask = allowed;
                pos = text.size();
                break;
            }
            return fail(text, start, element_end(text, start),
                        "not a node number (\"all\" only as the last element; device names are "
                        "not supported)");
        }
        std::size_t after = pos;
        unsigned first = 0;
        ParseResult err;
        if (!read_node(pos, after, first, err)) return err;
        pos = after;
        if (pos < text.size() && text[pos] == '-') {
            unsigned last = 0;
            if (!read_node(pos + 1, after, last, err)) {
                if (after == pos + 1)
                    return fail(text, start, element_end(text, start),
                                "range without an upper end");
                return err;
            }
            pos = after;
            if (last < first)
                return fail(text, start, pos, "reversed range: the first node is above the last");
            for (unsigned n = first; n <= last; ++n)
                if (allowed.test(n)) mask.set(n);
        } else {
            mask.set(first);
        }
        if (pos == text.size()) break;
        if (text[pos] != ',')
            return fail(text, start, element_end(text, start), "unexpected character in element");
        ++pos;
        if (pos == text.size() || text[pos] == ',')
            return fail(text, pos - 1, pos + (pos < text.size() ? 1 : 0),
                        "empty element: a node number is missing");
    }
    r.ok = true;
    r.nodes = invert ? allowed - mask : mask;
    return r;
}

// The kernel's list format (bitmap_parselist over MAX_NUMNODES bits).
constexpr ParseResult parse_kernel_nodelist(std::string_view text) {
    using namespace nodelist_detail;
    constexpr unsigned lastbit = kMaxNodes - 1;
    // end_of_str(): the kernel reads a C string, so NUL ends it as a newline does.
    auto end_of_str = [&](std::size_t p) {
        return p >= text.size() || text[p] == '\0' || text[p] == '\n';
    };
    auto separator = [&](std::size_t p) {  // __end_of_region()
        return p < text.size() && (is_space(text[p]) || text[p] == ',');
    };
    auto end_of_region = [&](std::size_t p) { return separator(p) || end_of_str(p); };
    auto region_end = [&](std::size_t p) {
        while (!end_of_region(p)) ++p;
        return p;
    };
    // bitmap_getnum(): 'N' is the last bit, otherwise unsigned decimal digits.
    enum class Num { Ok, Missing, Overflow };
    auto getnum = [&](std::size_t& p, unsigned& out) -> Num {
        if (p < text.size() && text[p] == 'N') {
            out = lastbit;
            ++p;
            return Num::Ok;
        }
        std::uint64_t v = 0;
        std::size_t q = p;
        bool overflow = false;
        while (q < text.size() && text[q] >= '0' && text[q] <= '9') {
            v = v * 10 + static_cast<unsigned>(text[q] - '0');
            if (v > UINT32_MAX) overflow = true, v = UINT32_MAX;
            ++q;
        }
        if (q == p) return Num::Missing;
        p = q;
        out = static_cast<unsigned>(v);
        return overflow ? Num::Overflow : Num::Ok;
    };

    Nodemask mask;
    std::size_t pos = 0;
    for (;;) {
        while (separator(pos)) ++pos;  // bitmap_find_region()
        if (end_of_str(pos)) break;
        const std::size_t start = pos;
        auto bad = [&](const char* message) {
            return fail(text, start, region_end(start), message);
        };
        auto bad_num = [&](Num n) {
            return bad(n == Num::Overflow ? "number too large" : "not a node number");
        };
        unsigned first = 0, last = 0, used = 0, group = 0;
        bool pattern = false;
        auto lower3 = [&](std::size_t p, char c) {
            return p < text.size() && (text[p] | 0x20) == c;
        };
        if (lower3(pos, 'a') && lower3(pos + 1, 'l') && lower3(pos + 2, 'l')) {
            first = 0;
            last = lastbit;
            pos += 3;
        } else {
            if (Num n = getnum(pos, first); n != Num::Ok) return bad_num(n);
            last = first;
            if (!end_of_region(pos)) {
                if (text[pos] != '-') return bad("unexpected character (expected '-' or ',')");
                ++pos;
                if (Num n = getnum(pos, last); n != Num::Ok) return bad_num(n);
            }
        }
        if (!end_of_region(pos)) {
            if (text[pos] != ':') return bad("unexpected character (expected ':' or ',')");
            ++pos;
            if (Num n = getnum(pos, used); n != Num::Ok) return bad_num(n);
            if (pos >= text.size() || text[pos] != '/')
                return bad("stride needs the form used/group");
            ++pos;
            if (Num n = getnum(pos, group); n != Num::Ok) return bad_num(n);
            pattern = true;
        }
        if (!pattern) used = group = last + 1;
        // bitmap_check_region()
        if (first > last) return bad("reversed range: the first node is above the last");
        if (group == 0 || used > group) return bad("bad stride: needs 0 < used <= group");
        if (last > lastbit) return bad("node number out of range (nodes are 0-1023)");
        // bitmap_set_region()
        for (unsigned s = first; s <= last; s += group)
            for (unsigned n = s; n < s + used && n <= last; ++n) mask.set(n);
        // bitmap_parse_region() returns right after the group size without
        // looking at what follows, so "0-3:1/2N" is 0,2 and the last node,
        // as in the kernel; the loop's top finds the next region.
        if (!pattern && end_of_str(pos)) break;
    }
    ParseResult r;
    r.ok = true;
    r.nodes = mask;
    return r;
}

}  // namespace numakeep
