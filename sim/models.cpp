// sim:NAME,key=value,... -> a device model.
#include "sim/models.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "sim/ixgbe/model.hpp"
#include "sim/nvme/controller.hpp"
#include "sim/ram/model.hpp"

namespace rl::sim {

namespace {

bool number(const std::string& key, const std::string& v, uint64_t lo, uint64_t hi, uint64_t& out,
            std::string* error) {
  char* end = nullptr;
  unsigned long long n = std::strtoull(v.c_str(), &end, 0);
  if (v.empty() || *end || n < lo || n > hi) {
    *error = "sim option " + key + "=" + v + " is not a number in [" + std::to_string(lo) + ", " +
             std::to_string(hi) + "]";
    return false;
  }
  out = n;
  return true;
}

}  // namespace

bool parse_mac(const std::string& v, std::array<uint8_t, 6>* mac) {
  unsigned b[6];
  char tail;
  if (std::sscanf(v.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6)
    return false;
  for (int i = 0; i < 6; ++i) (*mac)[i] = static_cast<uint8_t>(b[i]);
  return !((*mac)[0] & 1);   // a port's address is unicast
}

std::unique_ptr<pci::Model> make_ixgbe(const std::string& options, std::string* error) {
  IxgbeModelOptions o;
  std::stringstream ss(options);
  std::string item;
  auto with_arg = [&item](const char* prefix, std::string* arg) {
    std::size_t n = std::strlen(prefix);
    if (item.compare(0, n, prefix) != 0 || item.size() == n) return false;
    *arg = item.substr(n);
    return true;
  };
  std::string arg;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    if (item == "wire=loopback") o.wire = IxgbeWire::Loopback;
    else if (item == "wire=sink") o.wire = IxgbeWire::Sink;
    else if (with_arg("wire=pair:", &o.name)) o.wire = IxgbeWire::Pair;
    else if (with_arg("wire=pcap:", &o.name)) o.wire = IxgbeWire::Pcap;
    else if (with_arg("wire=tap:", &o.name)) o.wire = IxgbeWire::Tap;
    else if (item == "wire=gen" || with_arg("wire=gen:", &arg)) {
      o.wire = IxgbeWire::Gen;
      if (item != "wire=gen" && !parse_generator(arg, &o.gen, error)) return nullptr;
    } else if (with_arg("pcap-in=", &o.pcap_in)) {
    } else if (with_arg("mac=", &arg)) {
      std::array<uint8_t, 6> mac;
      if (!parse_mac(arg, &mac)) {
        *error = "sim:ixgbe mac=" + arg + ": expected a unicast address like 02:00:00:00:00:01";
        return nullptr;
      }
      o.mac = mac;
    } else {
      *error = "unknown sim:ixgbe option '" + item +
               "' (have: wire=loopback, wire=pair:NAME, wire=sink, wire=pcap:FILE, wire=tap:IFNAME, "
               "wire=gen[:size=N|MIN-MAX][:flows=N][:rate=MPPS][:count=N], pcap-in=FILE, mac=XX:XX:XX:XX:XX:XX)";
      return nullptr;
    }
  }
  std::string err;
  auto m = std::make_unique<IxgbeModel>(o, &err);
  if (!err.empty()) {
    *error = err;
    return nullptr;
  }
  return m;
}

std::unique_ptr<pci::Model> make_ram(const std::string& options, std::string* error) {
  uint64_t blocks = 16384;   // 64 MiB
  std::stringstream ss(options);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    if (item.rfind("blocks=", 0) == 0) {
      if (!number("blocks", item.substr(7), 1, uint64_t{1} << 28, blocks, error)) return nullptr;
    } else {
      *error = "unknown sim:ram option '" + item + "' (have: blocks=N, 4 KiB each)";
      return nullptr;
    }
  }
  std::string err;
  auto m = std::make_unique<RamModel>(blocks, &err);
  if (!err.empty()) {
    *error = err;
    return nullptr;
  }
  return m;
}

std::unique_ptr<pci::Model> make_model(const std::string& kind, const std::string& options, std::string* error) {
  if (kind == "ixgbe") return make_ixgbe(options, error);
  if (kind == "ram") return make_ram(options, error);
  if (kind != "nvme") {
    *error = "no simulated device named '" + kind + "' (have: nvme, ixgbe, ram)";
    return nullptr;
  }
  NvmeOptions o;
  std::stringstream ss(options);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    auto eq = item.find('=');
    std::string key = item.substr(0, eq), value = eq == std::string::npos ? "" : item.substr(eq + 1);
    uint64_t n = 0;
    if (key == "blocks") {
      if (!number(key, value, 16, uint64_t{1} << 32, n, error)) return nullptr;
      o.blocks = n;
    } else if (key == "lba") {
      if (value != "512" && value != "4096") {
        *error = "sim:nvme lba=" + value + ": the logical block size is 512 or 4096";
        return nullptr;
      }
      o.lba_shift = value == "512" ? 9 : 12;
    } else if (key == "queues") {
      if (!number(key, value, 1, 64, n, error)) return nullptr;
      o.max_queues = static_cast<uint32_t>(n);
    } else if (key == "file") {
      o.file = value;
    } else if (key == "nocopy") {
      o.nocopy = value.empty() || value == "1";
    } else {
      *error = "unknown sim:nvme option '" + key + "' (have: blocks, lba, queues, file, nocopy)";
      return nullptr;
    }
  }
  std::string file_error;
  auto c = std::make_unique<NvmeController>(o, &file_error);
  if (!file_error.empty()) {
    *error = file_error;
    return nullptr;
  }
  return c;
}

}  // namespace rl::sim
