// SPDX-License-Identifier: MIT
// The record store as the preload builds it: -fno-exceptions -fno-rtti.
#include <doctest/doctest.h>

#include "store_no_exceptions.hpp"

TEST_CASE("the store builds and works without exceptions and RTTI") {
    // reserve, set, punch, move: 4; two lookups: 2; two ranges after the
    // move (100-102 and 103-110, its growth merged in) seen by for_each
    // and for_each_in: 4; the plans, one call per range each: 4; check: 1;
    // size 2 + requests 1: 3; empty after clear: 1.
    CHECK(numakeep::test::exercise_store_without_exceptions() == 4 + 2 + 4 + 4 + 1 + 3 + 1);
}
