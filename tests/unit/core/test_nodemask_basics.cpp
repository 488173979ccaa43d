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
