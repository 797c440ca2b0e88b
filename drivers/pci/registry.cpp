// pci::open and the runtime's device table.
#include <cctype>
#include <mutex>
#include <vector>

#include "drivers/pci/backends.hpp"

namespace rl::pci {

namespace {

std::mutex g_lock;
std::vector<std::unique_ptr<Device>>* g_devices;   // index = DeviceRef.id - 1; trusted heap

// "0000:01:00.0": domain:bus:device.function, in hex.
bool is_pci_address(const std::string& s) {
  if (s.size() != 12 || s[4] != ':' || s[7] != ':' || s[10] != '.') return false;
  for (std::size_t i : {0u, 1u, 2u, 3u, 5u, 6u, 8u, 9u, 11u})
    if (!std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

}  // namespace

std::unique_ptr<Device> open(const std::string& spec, std::string* error) {
  detail::TrustedScope trusted;
  if (spec.rfind("sim:", 0) == 0) return open_sim(spec, error);
  if (is_pci_address(spec)) return open_vfio(spec, error);
  *error = "'" + spec + "' is neither a PCI address (like 0000:01:00.0) nor a simulated device (like sim:nvme)";
  return nullptr;
}

DeviceRef attach(std::unique_ptr<Device> d) {
  detail::TrustedScope trusted;
  std::lock_guard g(g_lock);
  if (!g_devices) g_devices = new std::vector<std::unique_ptr<Device>>();
  g_devices->push_back(std::move(d));
  return DeviceRef{static_cast<uint32_t>(g_devices->size())};
}

Device* lookup(DeviceRef ref) noexcept {
  std::lock_guard g(g_lock);
  if (!g_devices || ref.id == 0 || ref.id > g_devices->size()) return nullptr;
  return (*g_devices)[ref.id - 1].get();
}

std::unique_ptr<Device> detach(DeviceRef ref) {
  detail::TrustedScope trusted;
  std::lock_guard g(g_lock);
  if (!g_devices || ref.id == 0 || ref.id > g_devices->size()) return nullptr;
  return std::move((*g_devices)[ref.id - 1]);
}

}  // namespace rl::pci
