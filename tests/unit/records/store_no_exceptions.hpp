// SPDX-License-Identifier: MIT
#pragma once

namespace numakeep::test {
// Runs every operation of a RangeStore compiled with -fno-exceptions
// -fno-rtti; returns a checksum of what they answered.
int exercise_store_without_exceptions();
}  // namespace numakeep::test
