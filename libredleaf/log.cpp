#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "detail/log.hpp"
#include "domain.hpp"
#include "rpc_result.hpp"

namespace rl {

const char* to_string(RpcError e) noexcept {
  switch (e) {
    case RpcError::DomainFailed: return "DomainFailed";
    case RpcError::DomainUnloaded: return "DomainUnloaded";
    case RpcError::InvalidArgument: return "InvalidArgument";
  }
  return "unknown RpcError";
}

const char* to_string(DomainState s) noexcept {
  switch (s) {
    case DomainState::Live: return "live";
    case DomainState::Failed: return "failed";
    case DomainState::Reclaimed: return "reclaimed";
    case DomainState::Unloaded: return "unloaded";
  }
  return "unknown";
}

const char* to_string(FailureCause c) noexcept {
  switch (c) {
    case FailureCause::None: return "none";
    case FailureCause::Segfault: return "SIGSEGV";
    case FailureCause::BusError: return "SIGBUS";
    case FailureCause::FloatingPoint: return "SIGFPE";
    case FailureCause::IllegalInstruction: return "SIGILL";
    case FailureCause::StackOverflow: return "stack overflow";
    case FailureCause::Exception: return "uncaught exception";
    case FailureCause::Panic: return "panic";
    case FailureCause::Killed: return "killed";
    case FailureCause::Hang: return "hang (watchdog)";
  }
  return "unknown";
}

namespace detail {

namespace {
void report(const char* level, const char* fmt, va_list ap) noexcept {
  char buf[1024];
  vsnprintf(buf, sizeof buf, fmt, ap);
  fprintf(stderr, "redleaf: %s: %s\n", level, buf);
}
}  // namespace

void warn(const char* fmt, ...) noexcept {
  va_list ap;
  va_start(ap, fmt);
  report("warning", fmt, ap);
  va_end(ap);
}

void fatal(const char* fmt, ...) noexcept {
  va_list ap;
  va_start(ap, fmt);
  report("fatal", fmt, ap);
  va_end(ap);
  std::abort();
}

void fatal_in_signal(const char* what, const char* detail) noexcept {
  auto put = [](const char* s) { ssize_t r = write(2, s, strlen(s)); (void)r; };
  put("redleaf: fatal: ");
  put(what);
  put(detail);
  put("\n");
  std::abort();
}

}  // namespace detail
}  // namespace rl
