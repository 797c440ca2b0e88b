// Reading and validating an idl/ header with libclang.
#pragma once

#include <string>
#include <vector>

#include "model.hpp"

namespace idlc {

// Parses `path` with `clang_args`; fills `out`, or returns false after
// printing every problem as `file:line:col: error: ...` to stderr.
bool parse_module(const std::string& path, const std::vector<std::string>& clang_args, Module& out);

}  // namespace idlc
