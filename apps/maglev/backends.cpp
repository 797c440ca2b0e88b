#include "apps/maglev/backends.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <sstream>

namespace rl::maglev {

std::array<uint8_t, 6> mac_for_ip(uint32_t ip) {
  return {0x02, 0x00, static_cast<uint8_t>(ip >> 24), static_cast<uint8_t>(ip >> 16), static_cast<uint8_t>(ip >> 8),
          static_cast<uint8_t>(ip)};
}

namespace {

bool parse_mac(const std::string& s, std::array<uint8_t, 6>* out) {
  if (s.size() != 17) return false;
  for (std::size_t i = 0; i < s.size(); ++i)   // XX:XX:XX:XX:XX:XX exactly
    if (i % 3 == 2 ? s[i] != ':' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  for (int i = 0; i < 6; ++i) (*out)[i] = static_cast<uint8_t>(std::stoul(s.substr(i * 3, 2), nullptr, 16));
  return true;
}

bool valid_name(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == ':';
  });
}

}  // namespace

bool parse_backend(const std::string& spec, Backend* out, std::string* error) {
  auto eq = spec.find('=');
  if (eq == std::string::npos) {
    *error = "backend '" + spec + "': expected NAME=A.B.C.D[@XX:XX:XX:XX:XX:XX]";
    return false;
  }
  Backend b;
  b.name = spec.substr(0, eq);
  if (!valid_name(b.name)) {
    *error = "backend '" + spec + "': the name must be 1 to 64 of [A-Za-z0-9._:-]";
    return false;
  }
  std::string rest = spec.substr(eq + 1), mac;
  auto at = rest.find('@');
  if (at != std::string::npos) {
    mac = rest.substr(at + 1);
    rest = rest.substr(0, at);
  }
  in_addr addr{};
  if (inet_pton(AF_INET, rest.c_str(), &addr) != 1) {
    *error = "backend '" + spec + "': '" + rest + "' is not an IPv4 address A.B.C.D";
    return false;
  }
  b.ip = ntohl(addr.s_addr);
  if (at == std::string::npos) {
    b.mac = mac_for_ip(b.ip);
  } else if (!parse_mac(mac, &b.mac) || (b.mac[0] & 1)) {
    *error = "backend '" + spec + "': '" + mac + "' is not a unicast MAC address XX:XX:XX:XX:XX:XX";
    return false;
  }
  *out = std::move(b);
  return true;
}

bool parse_backends(const std::string& list, std::vector<Backend>* out, std::string* error) {
  std::stringstream ss(list);
  std::string item;
  std::vector<Backend> v;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    Backend b;
    if (!parse_backend(item, &b, error)) return false;
    v.push_back(std::move(b));
  }
  if (v.empty()) {
    *error = "no backends (--backends NAME=A.B.C.D[@MAC],...)";
    return false;
  }
  *out = std::move(v);
  return true;
}

bool BackendSet::add(const Backend& b, std::string* error) {
  Slot* reuse = nullptr;
  for (auto& s : slots_) {
    if (s.live && s.b.name == b.name) {
      *error = "backend " + b.name + " is already in the set";
      return false;
    }
    if (!s.live && s.b.name == b.name) reuse = &s;   // back again: its old slot, a new generation
  }
  if (!reuse && slots_.size() < kMaxBackends) reuse = &slots_.emplace_back();
  // All slots used once: take a dead one.  Its new generation tells the
  // connections tracked for the old backend apart from the new one.
  for (auto& s : slots_)
    if (!reuse && !s.live) reuse = &s;
  if (!reuse) {
    *error = "too many backends (at most " + std::to_string(kMaxBackends) + ")";
    return false;
  }
  if (reuse->used) reuse->generation = (reuse->generation + 1) % kGenerations;
  reuse->b = b;
  reuse->live = reuse->used = true;
  return true;
}

bool BackendSet::remove(const std::string& name, std::string* error) {
  for (auto& s : slots_)
    if (s.live && s.b.name == name) {
      if (live() == 1) {
        *error = "cannot remove " + name + ": it is the last backend";
        return false;
      }
      s.live = false;
      return true;
    }
  *error = "no backend named " + name;
  return false;
}

uint32_t BackendSet::live() const {
  return static_cast<uint32_t>(std::count_if(slots_.begin(), slots_.end(), [](const Slot& s) { return s.live; }));
}

bool BackendSet::apply(const std::string& line, bool* changed, std::string* error) {
  *changed = false;
  std::stringstream ss(line);
  std::string verb, arg, extra;
  ss >> verb >> arg >> extra;
  if (verb.empty() || verb[0] == '#') return true;
  if (!extra.empty() || arg.empty() || (verb != "add" && verb != "remove")) {
    *error = "'" + line + "': expected 'add NAME=A.B.C.D[@MAC]' or 'remove NAME'";
    return false;
  }
  if (verb == "add") {
    Backend b;
    if (!parse_backend(arg, &b, error) || !add(b, error)) return false;
  } else if (!remove(arg, error)) {
    return false;
  }
  *changed = true;
  return true;
}

std::unique_ptr<const Snapshot> BackendSet::build(std::string* error) const {
  auto start = std::chrono::steady_clock::now();
  auto snap = std::make_unique<Snapshot>();
  std::vector<std::pair<std::string, uint16_t>> by_name;   // (name, slot)
  for (uint32_t i = 0; i < slots_.size(); ++i) {
    const Slot& s = slots_[i];
    if (!s.used) continue;
    snap->name[i] = s.b.name;
    in_addr a{};
    a.s_addr = htonl(s.b.ip);
    snap->dest[i] = Dest{a.s_addr, s.b.mac, static_cast<uint16_t>(i | s.generation << kSlotBits), s.live ? 1u : 0u};
    if (s.live) by_name.emplace_back(s.b.name, static_cast<uint16_t>(i));
  }
  std::sort(by_name.begin(), by_name.end());
  std::vector<std::string> names;
  for (auto& [n, slot] : by_name) names.push_back(n);
  Table t = Table::build(names, size_, error);
  if (t.empty()) return nullptr;
  snap->table.resize(t.size());
  for (std::size_t i = 0; i < t.size(); ++i) snap->table[i] = by_name[t.entries()[i]].second;
  snap->fastmod = UINT64_MAX / t.size() + 1;
  snap->live = static_cast<uint32_t>(names.size());
  snap->build_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return snap;
}

}  // namespace rl::maglev
