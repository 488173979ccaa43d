// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include "numakeep/nodemask.hpp"

using numakeep::Nodemask;

TEST_CASE("nodemask set algebra and formatting") {
    Nodemask a{0, 1, 2, 3};
    Nodemask b{2, 3, 700};
    CHECK((a & b) == Nodemask{2, 3});
    CHECK((a | b).to_string() == "0-3,700");
    CHECK((a - b).to_string() == "0-1");
    CHECK(b.nth(2) == 700);
    CHECK(b.ord(700) == 2);
    CHECK(b.ord(5) == -1);
    CHECK(Nodemask{}.to_string().empty());
    CHECK(Nodemask::all().count() == numakeep::kMaxNodes);
    CHECK(Nodemask::all().last() == 1023);
}

TEST_CASE("kernel ABI drops the last bit of maxnode") {
    unsigned long raw[16] = {0xfUL};
    // maxnode 4 reads bits 0..2 only (get_nodes() in mm/mempolicy.c does --maxnode).
    CHECK(Nodemask::from_kernel(raw, 4).to_string() == "0-2");
    CHECK(Nodemask::from_kernel(raw, 5).to_string() == "0-3");
    CHECK(Nodemask::from_kernel(raw, 1).empty());
    CHECK(Nodemask::from_kernel(nullptr, 64).empty());
    CHECK(Nodemask::from_kernel_result(raw, 4).to_string() == "0-3");
}

TEST_CASE("nth and ord across words, as find_nth_bit and bitmap_pos_to_ord") {
    Nodemask m{0, 63, 64, 100, 700, 1023};
    const int nodes[] = {0, 63, 64, 100, 700, 1023};
    for (unsigned i = 0; i < 6; ++i) {
        CHECK(m.nth(i) == nodes[i]);
        CHECK(m.ord(static_cast<unsigned>(nodes[i])) == static_cast<int>(i));
    }
    CHECK(m.nth(6) == -1);
    CHECK(m.ord(1) == -1);
    CHECK(m.ord(1024) == -1);
    CHECK(Nodemask{}.nth(0) == -1);
    CHECK(Nodemask::all().nth(1023) == 1023);
    CHECK(Nodemask::all().ord(1023) == 1023);
    static_assert(Nodemask{5, 9}.nth(1) == 9);
    static_assert(Nodemask{5, 9}.ord(9) == 1);
}

TEST_CASE("kernel ABI: writing a mask back as get_mempolicy does") {
    Nodemask m{0, 3, 64, 1023};
    unsigned long out[17];
    for (auto& w : out) w = ~0UL;
    // maxnode 4: bits 0..2 live in one word (copy_nodes_to_user copies whole words).
    CHECK(m.to_kernel(out, 4) == 1);
    CHECK(out[0] == 0x9UL);
    CHECK(out[1] == ~0UL);  // untouched
    CHECK(m.to_kernel(out, 66) == 2);
    CHECK(out[1] == 1UL);
    // More than MAX_NUMNODES bits: the words beyond are zeroed, as clear_user() does.
    CHECK(m.to_kernel(out, 17 * 64 + 1) == 17);
    CHECK(out[15] == (1UL << 63));
    CHECK(out[16] == 0UL);
    CHECK(m.to_kernel(out, 1) == 0);
    CHECK(m.to_kernel(nullptr, 64) == 0);
    // Round trip through the reading side.
    CHECK(Nodemask::from_kernel(out, Nodemask::kKernelMaxnode) == m);
}
