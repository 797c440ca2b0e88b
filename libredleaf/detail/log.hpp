// Runtime diagnostics: one prefix ("redleaf: "), to stderr.
#pragma once

namespace rl::detail {

[[gnu::format(printf, 1, 2)]] void warn(const char* fmt, ...) noexcept;
[[noreturn, gnu::format(printf, 1, 2)]] void fatal(const char* fmt, ...) noexcept;
// Async-signal-safe: writes the message pieces and aborts.
[[noreturn]] void fatal_in_signal(const char* what, const char* detail) noexcept;

}  // namespace rl::detail
