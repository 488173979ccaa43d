// SPDX-License-Identifier: MIT
// Node lists: numactl's forms (libnuma's numa_parse_nodestring) and the
// kernel's (bitmap_parselist), every error naming its token.
#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "numakeep/nodelist.hpp"

using numakeep::Nodemask;
using numakeep::parse_kernel_nodelist;
using numakeep::parse_nodelist;

namespace {

const Nodemask k4 = Nodemask::range(0, 3);  // the guest's four nodes

std::string parsed(std::string_view text, const Nodemask& allowed = k4) {
    auto r = parse_nodelist(text, allowed);
    REQUIRE_MESSAGE(r.ok, "'", std::string(text), "' refused: ", r.error.message);
    return r.nodes.to_string();
}
std::string kernel(std::string_view text) {
    auto r = parse_kernel_nodelist(text);
    REQUIRE_MESSAGE(r.ok, "'", std::string(text), "' refused: ", r.error.message);
    return r.nodes.to_string();
}
// The token an error names, checking it lies inside the text.
std::string refused_token(std::string_view text, const Nodemask& allowed = k4) {
    auto r = parse_nodelist(text, allowed);
    REQUIRE_MESSAGE(!r.ok, "'", std::string(text), "' accepted as ", r.nodes.to_string());
    CHECK(r.error.offset + r.error.token.size() <= text.size());
    CHECK(std::string_view(r.error.message).size() > 0);
    return std::string(r.error.token);
}
std::string kernel_refused_token(std::string_view text) {
    auto r = parse_kernel_nodelist(text);
    REQUIRE_MESSAGE(!r.ok, "'", std::string(text), "' accepted as ", r.nodes.to_string());
    CHECK(r.error.offset + r.error.token.size() <= text.size());
    return std::string(r.error.token);
}

}  // namespace

TEST_CASE("numactl: absolute lists, ranges and all") {
    CHECK(parsed("0") == "0");
    CHECK(parsed("0-3") == "0-3");
    CHECK(parsed("1,3") == "1,3");
    CHECK(parsed("0-1,3") == "0-1,3");
    CHECK(parsed("3,0") == "0,3");
    CHECK(parsed("1-1") == "1");
    CHECK(parsed("all") == "0-3");
    CHECK(parsed("0,all") == "0-3");  // "all" as the last element overrides
    CHECK(parsed("") == "");          // libnuma returns the empty mask
    // Nodes between the ends that are not allowed are skipped (libnuma's loop).
    CHECK(parsed("0-7", Nodemask{0, 2, 7}) == "0,2,7");
    // Nodes beyond 64 and the last one.
    Nodemask big{1, 100, 700, 1023};
    CHECK(parsed("100,700-1023", big) == "100,700,1023");
    CHECK(parsed("all", big) == "1,100,700,1023");
    CHECK(parsed("1023", Nodemask::all()) == "1023");
}

TEST_CASE("numactl: relative (+) and inverted (!) forms") {
    Nodemask allowed{1, 3, 5, 7};
    CHECK(parsed("+0", allowed) == "1");
    CHECK(parsed("+0-1", allowed) == "1,3");
    CHECK(parsed("+1,3", allowed) == "3,7");
    CHECK(parsed("+0-3", allowed) == "1,3,5,7");
    CHECK(parsed("+all", allowed) == "1,3,5,7");
    CHECK(parsed("!1", allowed) == "3,5,7");  // complement within the allowed set
    CHECK(parsed("!1,5", allowed) == "3,7");
    CHECK(parsed("!+0", allowed) == "3,5,7");
    CHECK(parsed("!all", allowed) == "");
    CHECK(parsed("!0-1") == "2-3");
    CHECK(parsed("+2", Nodemask{4, 100, 700}) == "700");
}

TEST_CASE("numactl: numbers as strtoul(s, &end, 0) reads them") {
    CHECK(parsed("0x3") == "3");
    CHECK(parsed("0X2-0x3") == "2-3");
    CHECK(parsed("03") == "3");                           // octal
    CHECK(parsed("010", Nodemask::range(0, 15)) == "8");  // octal, not ten
    CHECK(parsed(" 1") == "1");                           // leading blanks
    CHECK(parsed("0, 1") == "0-1");                       // after a comma too
    CHECK(parsed("0-\t2") == "0-2");                      // and after '-'
    CHECK(parsed("-0") == "0");                           // a sign, negated zero
    CHECK(parsed("+1") == "1");                           // '+' first is relative
    CHECK(parsed("0,+1") == "0-1");                       // later, a plain sign
    CHECK(parsed("++1", Nodemask{2, 5}) == "5");          // relative, then a sign
}

TEST_CASE("numactl: errors name the bad token") {
    CHECK(refused_token("3-1") == "3-1");  // reversed range (libnuma silently takes "3")
    CHECK(refused_token("1,,2") == ",,");
    CHECK(refused_token("1024", Nodemask::all()) == "1024");
    CHECK(refused_token("x") == "x");
    CHECK(refused_token("0,x,1") == "x");
    CHECK(refused_token("7") == "7");      // not allowed
    CHECK(refused_token("0-7") == "7");    // an end that is not allowed
    CHECK(refused_token("1,") == ",");     // trailing comma
    CHECK(refused_token(",1") == ",");     // leading comma
    CHECK(refused_token("1 ") == "1 ");    // trailing blank
    CHECK(refused_token("0 ,1") == "0 ");  // blank before a comma
    CHECK(refused_token("1-") == "1-");
    CHECK(refused_token("1-x") == "1-x");
    CHECK(refused_token("08") == "08");  // 0 then an 8 that octal does not have
    CHECK(refused_token("0x") == "0x");  // "0" then an 'x'
    CHECK(refused_token("-1") == "-1");  // strtoul: ULONG_MAX, out of range
    CHECK(refused_token("99999999999999999999999", Nodemask::all()) == "99999999999999999999999");
    CHECK(refused_token("+4") == "4");                     // only four allowed: positions 0-3
    CHECK(refused_token("all,0") == "all");                // "all" only last (libnuma: strcmp)
    CHECK(refused_token("netdev:eth0") == "netdev:eth0");  // no device names
    CHECK(refused_token("!") == "!");
    CHECK(refused_token("+") == "+");
    CHECK(refused_token("+!0") == "!0");
    CHECK(refused_token("0:2") == "0:2");  // no strides in numactl's syntax
    CHECK(refused_token("0-3:2") == "0-3:2");
    CHECK(refused_token(std::string_view("1\0", 2)) == std::string("1\0", 2));

    auto r = parse_nodelist("0,3-1", k4);
    REQUIRE(!r.ok);
    CHECK(r.error.offset == 2);
    char buf[128];
    numakeep::format_error_into(r.error, buf, sizeof buf);
    CHECK(std::string(buf) ==
          "bad node list token '3-1' at offset 2: reversed range: the first node is above the "
          "last");
    CHECK(numakeep::format_error_into(r.error, buf, 8) == 7);  // truncated, terminated
    CHECK(std::string(buf) == "bad nod");
}

TEST_CASE("kernel lists: what /proc and cpuset files hold") {
    CHECK(kernel("0-3\n") == "0-3");
    CHECK(kernel("0-1,3\n") == "0-1,3");
    CHECK(kernel("\n") == "");
    CHECK(kernel("") == "");
    CHECK(kernel("0,700-702,1023") == "0,700-702,1023");
    CHECK(kernel(" 1 2,,3 ") == "1-3");  // commas and blanks separate
    CHECK(kernel("0-1023:2/256") == "0-1,256-257,512-513,768-769");
    CHECK(kernel("0-7:1/2") == "0,2,4,6");
    CHECK(kernel("N") == "1023");
    CHECK(kernel("1000-N") == "1000-1023");
    CHECK(kernel("all") == "0-1023");
    CHECK(kernel("ALL:1/512") == "0,512");
    CHECK(kernel("1\n2") == "1");             // a newline ends the list
    CHECK(kernel("0-3:1/2N") == "0,2,1023");  // kernel quirk: nothing checked after a stride
}

TEST_CASE("kernel lists: errors") {
    CHECK(kernel_refused_token("3-1") == "3-1");
    CHECK(kernel_refused_token("1024") == "1024");
    CHECK(kernel_refused_token("0-1024") == "0-1024");
    CHECK(kernel_refused_token("x") == "x");
    CHECK(kernel_refused_token("1,x") == "x");
    CHECK(kernel_refused_token("+1") == "+1");
    CHECK(kernel_refused_token("!1") == "!1");
    CHECK(kernel_refused_token("0x1") == "0x1");
    CHECK(kernel_refused_token("5:1/2") == "5:1/2");  // a stride needs a range
    CHECK(kernel_refused_token("0-7:3/2") == "0-7:3/2");
    CHECK(kernel_refused_token("0-7:1/0") == "0-7:1/0");
    CHECK(kernel_refused_token("0-7:1") == "0-7:1");
    CHECK(kernel_refused_token("0-7:1/2x") == "x");
    CHECK(kernel_refused_token("4294967296") == "4294967296");
    CHECK(kernel_refused_token("1-") == "1-");
}

TEST_CASE("formatting reads back through both parsers") {
    for (const Nodemask& m : {Nodemask{}, Nodemask{0}, Nodemask{0, 1, 2, 3, 7},
                              Nodemask{63, 64, 65, 100, 700, 1023}, Nodemask::all()}) {
        std::string text = m.to_string();
        CHECK(parse_kernel_nodelist(text).nodes == m);
        CHECK(parse_kernel_nodelist(text + "\n").nodes == m);
        auto r = parse_nodelist(text, Nodemask::all());
        CHECK(r.ok);
        CHECK(r.nodes == m);
    }
}

TEST_CASE("parsers are constexpr") {
    static_assert(parse_nodelist("+0-1", Nodemask{2, 4, 6}).nodes == Nodemask{2, 4});
    static_assert(!parse_nodelist("3-1", Nodemask::range(0, 3)).ok);
    static_assert(parse_kernel_nodelist("0-3,7\n").nodes == Nodemask{0, 1, 2, 3, 7});
}
