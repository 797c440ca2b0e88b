// sim:NAME,key=value,... -> a device model.
#include "sim/models.hpp"

#include <cstdlib>
#include <sstream>

#include "sim/ixgbe/model.hpp"
#include "sim/nvme/controller.hpp"

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

std::unique_ptr<pci::Model> make_ixgbe(const std::string& options, std::string* error) {
  IxgbeModel::Wire wire = IxgbeModel::Wire::Loopback;
  std::string pair, pcap_in;
  std::stringstream ss(options);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    if (item == "wire=loopback") wire = IxgbeModel::Wire::Loopback;
    else if (item == "wire=sink") wire = IxgbeModel::Wire::Sink;
    else if (item.rfind("wire=pair:", 0) == 0 && item.size() > 10) {
      wire = IxgbeModel::Wire::Pair;
      pair = item.substr(10);
    } else if (item.rfind("wire=pcap:", 0) == 0 && item.size() > 10) {
      wire = IxgbeModel::Wire::Pcap;
      pair = item.substr(10);
    } else if (item.rfind("pcap-in=", 0) == 0 && item.size() > 8) {
      pcap_in = item.substr(8);
    } else {
      *error = "unknown sim:ixgbe option '" + item +
               "' (have: wire=loopback, wire=pair:NAME, wire=sink, wire=pcap:FILE, pcap-in=FILE)";
      return nullptr;
    }
  }
  std::string err;
  auto m = std::make_unique<IxgbeModel>(wire, pair, pcap_in, &err);
  if (!err.empty()) {
    *error = err;
    return nullptr;
  }
  return m;
}

std::unique_ptr<pci::Model> make_model(const std::string& kind, const std::string& options, std::string* error) {
  if (kind == "ixgbe") return make_ixgbe(options, error);
  if (kind != "nvme") {
    *error = "no simulated device named '" + kind + "' (have: nvme, ixgbe)";
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
