// The runtime as code inside a domain sees it.
#pragma once

#include <cstdint>

namespace rl {

// Fails the calling domain now: the call into it returns DomainFailed and its
// heaps are reclaimed.  `message` is kept in the domain's failure record.
[[noreturn]] void panic(const char* message) noexcept;

// Starts a runtime thread that runs fn(arg) inside the calling domain.  The
// thread ends when fn returns or the domain fails (it is unwound).  `arg`
// should point into the domain's private heap.  Returns false if no thread
// could be created.
bool spawn(void (*fn)(void*), void* arg) noexcept;

// Sleeps; a domain thread blocked here is unwound at once if its domain fails.
void sleep_for_us(uint64_t microseconds) noexcept;

// Unwinds the calling thread if its domain has failed (for long loops).
void check_alive() noexcept;

// The id of the domain the calling code runs in (0 = trusted code).
uint32_t current_domain() noexcept;

}  // namespace rl
