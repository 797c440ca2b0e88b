// Emits, per interface: InterfaceTraits (name, fingerprint, methods), the
// proxy (exactly the cross_call path), the shadow skeleton, and per factory a
// typed loader.  The output reads like the hand-written proxies it replaced.
#include "generate.hpp"

#include <cinttypes>
#include <cstdio>
#include <sstream>

namespace idlc {
namespace {

std::string hex(uint64_t v) {
  char b[32];
  snprintf(b, sizeof b, "0x%016" PRIx64 "ull", v);
  return b;
}

std::string c_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '\n') out += "\\n\"\n      \"";
    else if (c == '"' || c == '\\') out += std::string("\\") + c;
    else out += c;
  }
  return out + "\"";
}

std::string params_decl(const Method& m) {
  std::string s;
  for (std::size_t i = 0; i < m.params.size(); ++i) {
    const Param& p = m.params[i];
    s += (i ? ", " : "");
    s += p.passing == Passing::Borrow ? "const " + p.type + "& " + p.name : p.type + " " + p.name;
  }
  return s;
}

std::string args_forward(const Method& m) {
  std::string s;
  for (std::size_t i = 0; i < m.params.size(); ++i) {
    const Param& p = m.params[i];
    s += (i ? ", " : "");
    s += p.passing == Passing::Value ? "std::move(" + p.name + ")" : p.name;
  }
  return s;
}

// The same, where RRef-holding values were first moved onto the callee's stack (in_NAME).
std::string args_forward_moved_in(const Method& m) {
  std::string s;
  for (std::size_t i = 0; i < m.params.size(); ++i) {
    const Param& p = m.params[i];
    s += (i ? ", " : "");
    if (p.passing != Passing::Value) s += p.name;
    else s += "std::move(" + std::string(p.holds_rref ? "in_" : "") + p.name + ")";
  }
  return s;
}

std::string result_type(const Method& m) { return "::rl::RpcResult<" + m.result + ">"; }

void emit_traits(std::ostringstream& o, const Interface& i) {
  o << "template <>\nstruct InterfaceTraits<" << "::" << i.qualified << "> {\n"
    << "  static constexpr const char* kName = \"" << i.qualified << "\";\n"
    << "  static constexpr uint64_t kFingerprint = " << hex(i.fingerprint) << ";\n"
    << "  // The canonical declaration the fingerprint hashes (FNV-1a).\n"
    << "  static constexpr const char* kDeclaration =\n      " << c_string(i.declaration) << ";\n"
    << "  enum class Method : uint32_t {";
  for (std::size_t k = 0; k < i.methods.size(); ++k) o << (k ? ", " : " ") << i.methods[k].name;
  o << " };\n  static constexpr MethodInfo kMethods[] = {\n";
  for (const Method& m : i.methods)
    o << "      {\"" << m.name << "\", " << (m.idempotent ? "true" : "false") << ", "
      << (m.batched ? "true" : "false") << "},\n";
  o << "  };\n};\n\n";
}

void emit_proxy(std::ostringstream& o, const Interface& i) {
  o << "class " << i.name << "Proxy final : public ::rl::ProxyBase<" << i.name << "> {\n"
    << " public:\n  using interface_type = " << i.name << ";\n  using ProxyBase::ProxyBase;\n";
  for (const Method& m : i.methods) {
    std::string R = result_type(m);
    o << "\n  " << R << " " << m.name << "(" << params_decl(m) << ") override {\n";
    for (const Param& p : m.params)
      if (p.passing == Passing::Borrow)
        o << "    ::rl::detail::Borrow<" << p.type << "> borrow_" << p.name << "(" << p.name << ");\n";
    o << "    " << (m.result_holds_rref ? "auto r = " : "return ") << "::rl::detail::cross_call(core_, [&]() -> "
      << R << " {\n"
      << "      " << i.name << "* i = impl();\n"
      << "      if (!i) [[unlikely]] return not_ready<" << m.result << ">();\n";
    for (const Param& p : m.params)
      if (p.holds_rref) o << "      ::rl::detail::give(" << p.name << ", core_->id);\n";
    // Moved onto the callee's stack first: an injected fault then finds them
    // where a real one would (the callee's, reclaimed with it), not in the proxy.
    for (const Param& p : m.params)
      if (p.holds_rref && p.passing == Passing::Value)
        o << "      auto in_" << p.name << " = std::move(" << p.name << ");\n";
    o << "      if (core_->inject.load(std::memory_order_relaxed)) [[unlikely]]\n"
      << "        ::rl::detail::inject_point(core_, static_cast<uint32_t>(::rl::InterfaceTraits<" << i.name
      << ">::Method::" << m.name << "));\n";
    o << "      return i->" << m.name << "(" << args_forward_moved_in(m) << ");\n    });\n";
    if (m.result_holds_rref)
      o << "    if (r.ok()) ::rl::detail::give(r.value(), ::rl::detail::current_domain_id());\n    return r;\n";
    o << "  }\n";
  }
  o << "};\n\n";
}

void emit_shadow(std::ostringstream& o, const Interface& i) {
  std::string traits = "::rl::InterfaceTraits<" + i.name + ">";
  o << "// Shadow skeleton: forwards every call to the guarded domain and reports\n"
    << "// each request's start, completion and the domain's failure to the hooks of\n"
    << "// ShadowBase; after a failure it retries idempotent methods once.\n"
    << "class " << i.name << "Shadow : public ::rl::ShadowBase<" << i.name << ", " << i.name << "Proxy> {\n"
    << " public:\n  using Method = " << traits << "::Method;\n  using ShadowBase::ShadowBase;\n";
  for (const Method& m : i.methods) {
    std::string R = result_type(m);
    std::string call = "proxy().";
    call += m.name + "(" + args_forward(m) + ")";
    std::string id = "static_cast<uint32_t>(Method::" + m.name + ")";
    o << "\n  " << R << " " << m.name << "(" << params_decl(m) << ") override {\n"
      << "    request_started(" << id << ");\n";
    if (m.idempotent) {
      std::string plain = "proxy()." + m.name + "(";
      for (std::size_t k = 0; k < m.params.size(); ++k) plain += (k ? ", " : "") + m.params[k].name;
      plain += ")";
      o << "    {\n      auto r = " << plain << ";\n"
        << "      if (r.ok() || r.error() != ::rl::RpcError::DomainFailed || !domain_failed(" << id << ", true)) {\n"
        << "        request_completed(" << id << ", r.ok());\n        return r;\n      }\n    }\n"
        << "    auto retried = " << plain << ";\n"
        << "    request_completed(" << id << ", retried.ok());\n    return retried;\n  }\n";
    } else {
      o << "    auto r = " << call << ";\n"
        << "    if (!r.ok() && r.error() == ::rl::RpcError::DomainFailed) (void)domain_failed(" << id << ", false);\n"
        << "    request_completed(" << id << ", r.ok());\n    return r;\n  }\n";
    }
  }
  o << "};\n\n";
}

void emit_factory(std::ostringstream& o, const Factory& f, const Module& m) {
  const Interface* iface = nullptr;
  for (const Interface& i : m.interfaces)
    if (i.qualified == f.interface) iface = &i;
  std::string proxy = iface ? iface->name + "Proxy" : "";
  std::string loader = f.name.rfind("create_", 0) == 0 ? "load_" + f.name.substr(7) : "load_" + f.name;
  if (!iface) {
    o << "// " << f.name << ": its interface " << f.interface << " is declared in another header.\n\n";
    return;
  }
  o << "// Loads a domain whose factory is " << f.name << " (RL_DOMAIN(" << f.name << ") in the .so).\n"
    << "inline ::rl::Loaded<" << proxy << "> " << loader << "(const std::string& path, const std::string& name, ";
  if (!f.init.empty()) o << "const " << f.init << "& init, ";
  o << "::rl::LoadError* error) {\n";
  if (f.init.empty())
    o << "  return ::rl::load_domain<" << proxy << ">(path, name, ::rl::NoInit{}, error);\n}\n\n";
  else
    o << "  return ::rl::load_domain<" << proxy << ">(path, name, init, error);\n}\n\n";
}

}  // namespace

std::string generate_header(const Module& m) {
  std::ostringstream o;
  o << "// Generated by idlc from " << m.header << ". Do not edit: change the header and rebuild.\n"
    << "#pragma once\n\n#include <cstdint>\n#include <string>\n#include <utility>\n\n"
    << "#include \"" << m.header << "\"\n#include \"libredleaf/proxy.hpp\"\n#include \"libredleaf/shadow.hpp\"\n\n";
  o << "namespace rl {\n\n";
  for (const Interface& i : m.interfaces) emit_traits(o, i);
  o << "}  // namespace rl\n\n";
  for (const Interface& i : m.interfaces) {
    o << "namespace " << i.ns << " {\n\n";
    emit_proxy(o, i);
    emit_shadow(o, i);
    o << "}  // namespace " << i.ns << "\n\n";
  }
  for (const Factory& f : m.factories) {
    o << "namespace " << f.ns << " {\n\n";
    emit_factory(o, f, m);
    o << "}  // namespace " << f.ns << "\n\n";
  }
  return o.str();
}

}  // namespace idlc
