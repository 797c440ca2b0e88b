// idl/ header -> Module, with every rule of design.md §4-5 checked.
//
// libclang's C API: walk the main file's namespaces for classes marked
// RL_INTERFACE (an `annotate("rl_interface")` attribute under clang) and
// functions marked RL_FACTORY; check each method, parameter and reachable
// struct against the Exchangeable rules; build the canonical declaration text
// whose hash is the ABI fingerprint.
#include "parse.hpp"

#include <clang-c/Index.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>

namespace idlc {
namespace {

std::string str(CXString s) {
  const char* c = clang_getCString(s);
  std::string r = c ? c : "";
  clang_disposeString(s);
  return r;
}

std::string spelling(CXCursor c) { return str(clang_getCursorSpelling(c)); }
std::string type_spelling(CXType t) { return str(clang_getTypeSpelling(clang_getCanonicalType(t))); }

std::string location(CXCursor c) {
  CXFile file;
  unsigned line = 0, col = 0;
  clang_getExpansionLocation(clang_getCursorLocation(c), &file, &line, &col, nullptr);
  return str(clang_getFileName(file)) + ":" + std::to_string(line) + ":" + std::to_string(col);
}

std::string qualified_name(CXCursor c) {
  std::string name = spelling(c);
  for (CXCursor p = clang_getCursorSemanticParent(c); !clang_Cursor_isNull(p) &&
                                                      p.kind != CXCursor_TranslationUnit;
       p = clang_getCursorSemanticParent(p)) {
    if (p.kind == CXCursor_Namespace || p.kind == CXCursor_ClassDecl || p.kind == CXCursor_StructDecl ||
        p.kind == CXCursor_ClassTemplate) {
      std::string ns = spelling(p);
      if (clang_Cursor_isInlineNamespace(p)) continue;   // std::__cxx11
      name = (ns.empty() ? "(anonymous)" : ns) + "::" + name;
    }
  }
  return name;
}

std::string namespace_of(CXCursor c) {
  std::string q = qualified_name(c);
  auto pos = q.rfind("::");
  return pos == std::string::npos ? "" : q.substr(0, pos);
}

template <class F>
void for_children(CXCursor c, F&& f) {
  clang_visitChildren(
      c,
      [](CXCursor child, CXCursor, CXClientData data) {
        (*static_cast<F*>(data))(child);
        return CXChildVisit_Continue;
      },
      &f);
}

bool has_annotation(CXCursor c, const std::string& what) {
  bool found = false;
  for_children(c, [&](CXCursor ch) {
    if (ch.kind == CXCursor_AnnotateAttr && spelling(ch) == what) found = true;
  });
  return found;
}

bool is_interface_decl(CXCursor decl) { return has_annotation(decl, "rl_interface"); }

// The template a specialization comes from ("rl::RRef"), or "".
std::string template_of(CXType t) {
  CXCursor decl = clang_getTypeDeclaration(clang_getCanonicalType(t));
  CXCursor tmpl = clang_getSpecializedCursorTemplate(decl);
  if (clang_Cursor_isNull(tmpl)) return "";
  return qualified_name(tmpl);
}

CXType template_arg(CXType t, unsigned i) {
  return clang_Type_getTemplateArgumentAsType(clang_getCanonicalType(t), i);
}

bool is_rref_family(const std::string& tmpl) {
  return tmpl == "rl::RRef" || tmpl == "rl::RRefArray" || tmpl == "rl::RRefDeque";
}

struct Problem {
  CXCursor where;
  std::string what;
  std::string fix;
};

class Checker {
 public:
  // Layouts of every struct the interface reaches, for the fingerprint.
  std::map<std::string, std::string> layouts;

  // Is `t` exchangeable?  `where`/`what` describe the use for messages.
  std::optional<Problem> exchangeable(CXType t, CXCursor where, const std::string& what) {
    CXType c = clang_getCanonicalType(t);
    std::string ts = type_spelling(c);
    switch (c.kind) {
      case CXType_Pointer:
      case CXType_MemberPointer:
      case CXType_BlockPointer:
        return Problem{where, what + " is a raw pointer (" + ts + ")",
                       "pass an RRef<T> for shared-heap data, or an index or handle"};
      case CXType_LValueReference:
      case CXType_RValueReference:
        return Problem{where, what + " is a reference (" + ts + ")",
                       "store the value itself, or an RRef<T>"};
      case CXType_ConstantArray:
      case CXType_IncompleteArray:
      case CXType_VariableArray:
        return Problem{where, what + " is a C array (" + ts + ")", "use std::array<T, N> instead of T[N]"};
      case CXType_Enum:
        enumeration(c);
        return std::nullopt;
      case CXType_Record:
        return record(c, where, what);
      default:
        break;
    }
    if (c.kind >= CXType_FirstBuiltin && c.kind <= CXType_LastBuiltin && c.kind != CXType_Void &&
        c.kind != CXType_NullPtr && c.kind != CXType_Overload && c.kind != CXType_Dependent)
      return std::nullopt;
    return Problem{where, what + " has a type that cannot cross domains (" + ts + ")",
                   "use arithmetic types, enums, std::array, RRef<T>, Cap<I> or plain structs of those"};
  }

  bool holds_rref(CXType t) {
    CXType c = clang_getCanonicalType(t);
    if (c.kind != CXType_Record) return false;
    std::string tmpl = template_of(c);
    if (is_rref_family(tmpl)) return true;
    if (tmpl == "std::array") return holds_rref(template_arg(c, 0));
    if (!tmpl.empty()) return false;
    bool any = false;
    for_children(clang_getTypeDeclaration(c), [&](CXCursor f) {
      if (f.kind == CXCursor_FieldDecl && holds_rref(clang_getCursorType(f))) any = true;
    });
    return any;
  }

 private:
  // Enumerators are part of the contract: a renumbered enum changes the fingerprint.
  void enumeration(CXType c) {
    CXCursor decl = clang_getTypeDeclaration(c);
    std::string q = qualified_name(decl);
    if (layouts.count(q)) return;
    std::string text = "enum " + q + " : " + type_spelling(clang_getEnumDeclIntegerType(decl)) + " {";
    for_children(decl, [&](CXCursor e) {
      if (e.kind == CXCursor_EnumConstantDecl)
        text += " " + spelling(e) + "=" + std::to_string(clang_getEnumConstantDeclValue(e));
    });
    layouts[q] = text + " }";
  }

  std::optional<Problem> record(CXType c, CXCursor where, const std::string& what) {
    CXCursor decl = clang_getTypeDeclaration(c);
    std::string ts = type_spelling(c);
    if (decl.kind == CXCursor_UnionDecl)
      return Problem{where, what + " is a union (" + ts + ")",
                     "use a tag enum and a std::array<uint8_t, N> payload, or a struct"};
    std::string tmpl = template_of(c);
    if (is_rref_family(tmpl))
      return exchangeable(template_arg(c, 0), where, what + "'s element type");
    if (tmpl == "rl::Cap") {
      CXCursor target = clang_getTypeDeclaration(clang_getCanonicalType(template_arg(c, 0)));
      if (!is_interface_decl(target))
        return Problem{where, what + " is a Cap<" + type_spelling(template_arg(c, 0)) + "> of a class that is not an interface",
                       "mark that class RL_INTERFACE"};
      return std::nullopt;
    }
    if (tmpl == "std::array") return exchangeable(template_arg(c, 0), where, what + "'s element type");
    if (tmpl == "rl::RpcResult")
      return Problem{where, what + " is an RpcResult", "only a method's return type is an RpcResult"};
    std::string q = qualified_name(decl);
    if (q.rfind("std::", 0) == 0) {
      bool text = q.find("basic_string") != std::string::npos;
      return Problem{where, what + " is " + (text ? "a std::string" : "a standard library class") + " (" + ts + ")",
                     text ? "use std::array<char, N> (or an RRefArray<char, N>): a string owns memory in the "
                            "sender's private heap"
                          : "use std::array<T, N>, RRefArray<T, N> or RRefDeque<T, N>: containers own memory in "
                            "the sender's private heap"};
    }
    return plain_struct(c, decl, q, what);
  }

  // Problems are reported at the offending field, so the use site is not needed.
  std::optional<Problem> plain_struct(CXType c, CXCursor decl, const std::string& q, const std::string& what) {
    if (checking_.count(q) || layouts.count(q)) return std::nullopt;
    checking_.insert(q);
    std::optional<Problem> p;
    std::ostringstream layout;
    layout << "struct " << q << " size " << clang_Type_getSizeOf(c) << " align " << clang_Type_getAlignOf(c)
           << " {";
    for_children(decl, [&](CXCursor f) {
      if (p) return;
      std::string fname = spelling(f);
      if (f.kind == CXCursor_CXXBaseSpecifier) {
        p = Problem{f, "struct " + q + " (" + what + ") has a base class",
                    "exchangeable structs are plain aggregates: make the base a field"};
      } else if (f.kind == CXCursor_CXXMethod && clang_CXXMethod_isVirtual(f)) {
        p = Problem{f, "struct " + q + " (" + what + ") is polymorphic (virtual " + fname + ")",
                    "pass plain data; to pass behaviour, pass a Cap<Interface>"};
      } else if (f.kind == CXCursor_Constructor) {
        p = Problem{f, "struct " + q + " (" + what + ") declares a constructor",
                    "make it a plain aggregate so its fields can be checked"};
      } else if (f.kind == CXCursor_FieldDecl) {
        CXType ft = clang_getCursorType(f);
        std::string fwhat = "field '" + fname + "' of struct " + q;
        if (clang_getCXXAccessSpecifier(f) != CX_CXXPublic)
          p = Problem{f, fwhat + " is not public", "exchangeable structs are plain aggregates: make it public"};
        else if (clang_isConstQualifiedType(ft))
          p = Problem{f, fwhat + " is const", "drop the const: the struct must be movable"};
        else
          p = exchangeable(ft, f, fwhat);
        layout << " " << fname << " " << type_spelling(ft) << " @" << clang_Type_getOffsetOf(c, fname.c_str()) / 8;
      }
    });
    layout << " }";
    checking_.erase(q);
    if (!p) layouts[q] = layout.str();
    return p;
  }

  std::set<std::string> checking_;
};

class Reader {
 public:
  Reader(CXTranslationUnit tu, Module& m) : tu_(tu), m_(m) {}

  bool run() {
    CXCursor root = clang_getTranslationUnitCursor(tu_);
    walk(root);
    return errors_ == 0;
  }

 private:
  void error(CXCursor where, const std::string& what, const std::string& in, const std::string& fix) {
    fprintf(stderr, "%s: error: %s in %s, %s\n", location(where).c_str(), what.c_str(), in.c_str(), fix.c_str());
    ++errors_;
  }
  void error(const Problem& p, const std::string& in) { error(p.where, p.what, in, p.fix); }

  void walk(CXCursor parent) {
    for_children(parent, [&](CXCursor c) {
      if (!clang_Location_isFromMainFile(clang_getCursorLocation(c))) return;
      if (c.kind == CXCursor_Namespace || c.kind == CXCursor_LinkageSpec) {
        walk(c);
      } else if ((c.kind == CXCursor_ClassDecl || c.kind == CXCursor_StructDecl) && clang_isCursorDefinition(c)) {
        if (is_interface_decl(c)) interface(c);
        else unmarked_class(c);
      } else if (c.kind == CXCursor_FunctionDecl && has_annotation(c, "rl_factory")) {
        factory(c);
      }
    });
  }

  // A class with pure virtual methods but no RL_INTERFACE is almost certainly
  // an interface someone forgot to mark: no proxy would be generated for it.
  void unmarked_class(CXCursor c) {
    std::optional<CXCursor> pure;
    for_children(c, [&](CXCursor m) {
      if (!pure && m.kind == CXCursor_CXXMethod && clang_CXXMethod_isPureVirtual(m)) pure = m;
    });
    if (pure)
      error(*pure, "class " + spelling(c) + " has pure virtual methods but no RL_INTERFACE mark",
            spelling(c) + "::" + spelling(*pure),
            "write `class RL_INTERFACE " + spelling(c) + "` (or move it out of idl/)");
  }

  void collect_methods(CXCursor cls, const std::string& iface, std::vector<Method>& out, bool& ok) {
    for_children(cls, [&](CXCursor c) {
      if (c.kind != CXCursor_CXXBaseSpecifier) return;
      CXCursor base = clang_getTypeDeclaration(clang_getCanonicalType(clang_getCursorType(c)));
      if (!is_interface_decl(base)) {
        error(c, "interface " + iface + " derives from " + qualified_name(base) + ", which is not an interface",
              iface, "derive only from RL_INTERFACE classes (a proxy forwards only interface methods)");
        ok = false;
        return;
      }
      collect_methods(base, qualified_name(base), out, ok);
    });
    std::string self = qualified_name(cls);
    for_children(cls, [&](CXCursor c) {
      std::string name = spelling(c);
      std::string in = spelling(cls) + "::" + name;
      if (c.kind == CXCursor_FieldDecl) {
        error(c, "data member '" + name + "'", in, "interfaces hold no state: keep it in the domain's object");
        ok = false;
      } else if (c.kind == CXCursor_CXXMethod) {
        if (clang_CXXMethod_isStatic(c) || !clang_CXXMethod_isPureVirtual(c)) {
          error(c, "method '" + name + "' is not pure virtual", in,
                "declare it `virtual RpcResult<T> " + name + "(...) = 0;`: interfaces carry no code");
          ok = false;
          return;
        }
        auto m = method(c, spelling(cls));
        if (!m) {
          ok = false;
          return;
        }
        m->declared_in = self;
        for (const Method& other : out)
          if (other.name == m->name) {
            error(c, "overloaded method '" + name + "'", in,
                  "give each method its own name: proxies, shadows and fingerprints identify methods by name");
            ok = false;
            return;
          }
        out.push_back(std::move(*m));
      }
    });
  }

  std::optional<Method> method(CXCursor c, const std::string& iface) {
    Method m;
    m.name = spelling(c);
    std::string in = iface + "::" + m.name;
    m.idempotent = has_annotation(c, "rl_idempotent");
    m.batched = has_annotation(c, "rl_batched");
    bool ok = true;

    CXType ret = clang_getCanonicalType(clang_getCursorResultType(c));
    if (template_of(ret) != "rl::RpcResult") {
      error(c, "method returns " + type_spelling(ret) + ", not RpcResult<T>", in,
            "return RpcResult<" + type_spelling(ret) + ">: only the runtime may report that the callee failed");
      return std::nullopt;
    }
    CXType value = clang_getCanonicalType(template_arg(ret, 0));
    m.result = value.kind == CXType_Void ? "void" : type_spelling(value);
    m.result_holds_rref = value.kind != CXType_Void && checker_.holds_rref(value);
    if (value.kind != CXType_Void)
      if (auto p = checker_.exchangeable(value, c, "the result type")) {
        error(*p, in);
        ok = false;
      }

    int n = clang_Cursor_getNumArguments(c);
    bool has_deque = false;
    for (int i = 0; i < n; ++i) {
      CXCursor a = clang_Cursor_getArgument(c, static_cast<unsigned>(i));
      Param p;
      p.name = spelling(a);
      if (p.name.empty()) p.name = "arg" + std::to_string(i);
      CXType t = clang_getCanonicalType(clang_getCursorType(a));
      std::string what = "parameter '" + p.name + "'";
      if (t.kind == CXType_LValueReference || t.kind == CXType_RValueReference) {
        CXType pointee = clang_getCanonicalType(clang_getPointeeType(t));
        std::string tmpl = template_of(pointee);
        if (t.kind == CXType_LValueReference && clang_isConstQualifiedType(pointee) && is_rref_family(tmpl)) {
          p.passing = Passing::Borrow;
          p.type = type_spelling(pointee);
          if (p.type.rfind("const ", 0) == 0) p.type = p.type.substr(6);
          has_deque |= tmpl == "rl::RRefDeque";
          if (auto prob = checker_.exchangeable(pointee, a, what)) {
            error(*prob, in);
            ok = false;
          }
        } else {
          error(a, "non-RRef reference " + what + " (" + type_spelling(t) + ")", in,
                "pass it by value, as RRef<T> (ownership moves) or as const RRef<T>& (an immutable borrow)");
          ok = false;
          continue;
        }
      } else if (t.kind == CXType_Pointer) {
        error(a, "raw pointer " + what + " (" + type_spelling(t) + ")", in,
              "pass an RRef<T> (shared heap, ownership moves) or an exchangeable value");
        ok = false;
        continue;
      } else {
        p.passing = Passing::Value;
        p.type = type_spelling(t);
        has_deque |= template_of(t) == "rl::RRefDeque";
        if (auto prob = checker_.exchangeable(t, a, what)) {
          error(*prob, in);
          ok = false;
        }
      }
      p.holds_rref = p.passing == Passing::Value && checker_.holds_rref(t);
      if (m.idempotent && p.holds_rref) {
        error(a, "idempotent method moves an RRef (" + what + ")", in,
              "a shadow cannot retry it, the RRef died with the domain: borrow it (const RRef<T>&) or "
              "drop RL_IDEMPOTENT");
        ok = false;
      }
      m.params.push_back(std::move(p));
    }
    if (m.batched && !has_deque) {
      error(c, "batched method takes no RRefDeque", in, "pass the batch as an RRefDeque<T, N>, or drop RL_BATCHED");
      ok = false;
    }
    if (!ok) return std::nullopt;
    return m;
  }

  void interface(CXCursor c) {
    checker_ = Checker();   // the fingerprint covers what this interface reaches, nothing else
    Interface i;
    i.name = spelling(c);
    i.qualified = qualified_name(c);
    i.ns = namespace_of(c);
    bool ok = true;
    collect_methods(c, i.qualified, i.methods, ok);
    if (!ok) return;
    if (i.methods.empty()) {
      error(c, "interface " + i.name + " has no methods", i.name + "::(none)", "declare at least one method");
      return;
    }
    std::ostringstream d;
    d << "redleaf-idl/1 interface " << i.qualified << "\n";
    for (const Method& m : i.methods) {
      d << "method " << m.name << "(";
      for (std::size_t k = 0; k < m.params.size(); ++k)
        d << (k ? ", " : "") << (m.params[k].passing == Passing::Borrow ? "borrow " : "") << m.params[k].type;
      d << ") -> " << m.result << (m.idempotent ? " idempotent" : "") << (m.batched ? " batched" : "") << "\n";
    }
    for (const auto& [name, layout] : checker_.layouts) d << layout << "\n";
    i.declaration = d.str();
    i.fingerprint = fnv1a(i.declaration);
    m_.interfaces.push_back(std::move(i));
  }

  void factory(CXCursor c) {
    checker_ = Checker();
    Factory f;
    f.name = spelling(c);
    f.ns = namespace_of(c);
    std::string in = f.name + "(factory)";
    CXType ret = clang_getCanonicalType(clang_getCursorResultType(c));
    CXCursor target = clang_getTypeDeclaration(clang_getCanonicalType(clang_getPointeeType(ret)));
    if (ret.kind != CXType_Pointer || !is_interface_decl(target)) {
      error(c, "factory returns " + type_spelling(ret), f.name + "::(factory)",
            "a factory returns a pointer to an RL_INTERFACE class: `I* " + f.name + "(const Init&)`");
      return;
    }
    f.interface = qualified_name(target);
    int n = clang_Cursor_getNumArguments(c);
    if (n > 1) {
      error(c, "factory takes " + std::to_string(n) + " parameters", f.name + "::(factory)",
            "gather the init arguments in one exchangeable struct: `I* " + f.name + "(const Init&)`");
      return;
    }
    if (n == 1) {
      CXType t = clang_getCanonicalType(clang_getCursorType(clang_Cursor_getArgument(c, 0)));
      if (t.kind == CXType_LValueReference) t = clang_getCanonicalType(clang_getPointeeType(t));
      f.init = type_spelling(t);
      if (f.init.rfind("const ", 0) == 0) f.init = f.init.substr(6);
      if (auto p = checker_.exchangeable(t, clang_Cursor_getArgument(c, 0), "the init argument")) {
        error(*p, f.name + "::(factory)");
        return;
      }
    }
    m_.factories.push_back(std::move(f));
  }

  CXTranslationUnit tu_;
  Module& m_;
  Checker checker_;
  int errors_ = 0;
};

}  // namespace

bool parse_module(const std::string& path, const std::vector<std::string>& clang_args, Module& out) {
  CXIndex index = clang_createIndex(0, 0);
  std::vector<const char*> argv = {"-x", "c++", "-std=c++20", "-DRL_IDLC=1"};
  for (const std::string& a : clang_args) argv.push_back(a.c_str());
  CXTranslationUnit tu = nullptr;
  CXErrorCode rc = clang_parseTranslationUnit2(index, path.c_str(), argv.data(), static_cast<int>(argv.size()),
                                               nullptr, 0, CXTranslationUnit_SkipFunctionBodies, &tu);
  if (rc != CXError_Success || !tu) {
    fprintf(stderr, "%s: error: cannot parse this header (libclang error %d); check that the file exists\n",
            path.c_str(), static_cast<int>(rc));
    clang_disposeIndex(index);
    return false;
  }
  // A header with a syntax error still yields a partial AST: stop on any error.
  bool ok = true;
  for (unsigned i = 0, n = clang_getNumDiagnostics(tu); i < n; ++i) {
    CXDiagnostic d = clang_getDiagnostic(tu, i);
    if (clang_getDiagnosticSeverity(d) >= CXDiagnostic_Error) {
      fprintf(stderr, "%s\n", str(clang_formatDiagnostic(d, clang_defaultDiagnosticDisplayOptions())).c_str());
      ok = false;
    }
    clang_disposeDiagnostic(d);
  }
  if (ok) {
    Reader reader(tu, out);
    ok = reader.run();
    if (ok && out.interfaces.empty() && out.factories.empty()) {
      fprintf(stderr, "%s:1:1: error: no RL_INTERFACE class in this header in (none)::(none), "
                      "mark each interface `class RL_INTERFACE Name`\n", path.c_str());
      ok = false;
    }
  }
  clang_getInclusions(
      tu,
      [](CXFile included, CXSourceLocation*, unsigned, CXClientData data) {
        static_cast<Module*>(data)->dependencies.push_back(str(clang_getFileName(included)));
      },
      &out);
  clang_disposeTranslationUnit(tu);
  clang_disposeIndex(index);
  return ok;
}

}  // namespace idlc
