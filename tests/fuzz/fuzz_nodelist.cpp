// SPDX-License-Identifier: MIT
// Fuzz target: both node-list parsers (include/numakeep/nodelist.hpp).
//
// Beyond "does not crash", every input checks what the parsers promise:
// an accepted list only names allowed nodes and formats back to itself
// through both parsers; a refused one names a token inside the input and
// formats its error without overrunning.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "numakeep/nodelist.hpp"

using namespace numakeep;

namespace {

void require(bool ok) {
    if (!ok) std::abort();  // libFuzzer reports the input; the replay test fails
}

void check_error(std::string_view text, const ParseResult& r) {
    require(r.error.offset <= text.size());
    require(r.error.offset + r.error.token.size() <= text.size());
    require(r.error.token.empty() || r.error.token.data() == text.data() + r.error.offset);
    char buf[64];
    std::size_t n = format_error_into(r.error, buf, sizeof buf);
    require(n < sizeof buf && buf[n] == '\0');
}

void check_round_trip(const Nodemask& nodes) {
    char buf[kMaxNodes * 5];
    std::size_t n = nodes.format_into(buf, sizeof buf);
    std::string_view text(buf, n);
    ParseResult k = parse_kernel_nodelist(text);
    require(k.ok && k.nodes == nodes);
    ParseResult a = parse_nodelist(text, Nodemask::all());
    require(a.ok && a.nodes == nodes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    static const Nodemask allowed_sets[] = {
        Nodemask::all(),
        Nodemask::range(0, 3),
        Nodemask{1, 3, 64, 100, 700, 1023},
        Nodemask{},
    };
    for (const Nodemask& allowed : allowed_sets) {
        ParseResult r = parse_nodelist(text, allowed);
        if (r.ok) {
            require(r.nodes.subset_of(allowed));
            check_round_trip(r.nodes);
        } else {
            check_error(text, r);
        }
    }
    ParseResult k = parse_kernel_nodelist(text);
    if (k.ok)
        check_round_trip(k.nodes);
    else
        check_error(text, k);
    return 0;
}
