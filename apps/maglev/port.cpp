#include "apps/maglev/port.hpp"

#include <optional>

#include "domains/shadow/net/net_shadow.hpp"
#include "domains/shadow/recovery.hpp"
#include "drivers/ixgbe/net.hpp"
#include "sim/ixgbe/model.hpp"

namespace rl::maglev {

const char* to_string(Through t) {
  switch (t) {
    case Through::Direct: return "direct";
    case Through::Domain: return "domain";
    case Through::Shadow: return "shadow";
  }
  return "?";
}

bool parse_through(const std::string& s, Through* out) {
  for (Through t : {Through::Direct, Through::Domain, Through::Shadow})
    if (s == to_string(t)) {
      *out = t;
      return true;
    }
  return false;
}

namespace {

uint64_t sunk(pci::Device* d, bool ixgbe_model) {
  return d && ixgbe_model && d->model() ? static_cast<sim::IxgbeModel*>(d->model())->sunk_frames() : 0;
}

bool is_sim_ixgbe(const std::string& device) { return device.rfind("sim:ixgbe", 0) == 0; }

class DirectPort final : public Port {
 public:
  DirectPort(std::unique_ptr<pci::Device> dev, std::unique_ptr<net::Net> net, bool sim)
      : dev_(std::move(dev)), net_(std::move(net)), sim_(sim) {}
  ~DirectPort() override { net_.reset(); }   // the driver before its device
  net::Net& net() override { return *net_; }
  Domain* domain() override { return nullptr; }
  uint64_t recoveries() const override { return 0; }
  uint64_t wire_frames() const override { return sunk(dev_.get(), sim_); }

 private:
  std::unique_ptr<pci::Device> dev_;
  std::unique_ptr<net::Net> net_;
  bool sim_;
};

// The driver in ixgbe.so; with `shadow`, the network shadow in front of it.
class DomainPort final : public Port {
 public:
  DomainPort(pci::DeviceRef ref, Loaded<net::NetProxy> l, bool shadow, bool sim)
      : ref_(ref), loaded_(std::move(l)), sim_(sim) {
    if (shadow) {
      shadow_.emplace(*loaded_.domain, ref_);   // also resets the device when the driver dies
    } else {
      shadow::reset_device_on_failure(*loaded_.domain, ref_);   // no DMA into a dead driver's rings
    }
  }
  ~DomainPort() override {
    shadow_.reset();
    loaded_ = {};
    pci::detach(ref_);
  }
  net::Net& net() override { return shadow_ ? static_cast<net::Net&>(*shadow_) : *loaded_.proxy; }
  Domain* domain() override { return loaded_.domain.get(); }
  uint64_t recoveries() const override { return shadow_ ? shadow_->recoveries() : 0; }
  uint64_t wire_frames() const override { return sunk(pci::lookup(ref_), sim_); }

 private:
  pci::DeviceRef ref_;
  Loaded<net::NetProxy> loaded_;
  std::optional<net::NetDeviceShadow> shadow_;
  bool sim_;
};

}  // namespace

std::unique_ptr<Port> Port::open(const std::string& device, Through through, const std::string& ixgbe_so,
                                 std::string* error) {
  auto dev = pci::open(device, error);
  if (!dev) return nullptr;
  const bool sim = is_sim_ixgbe(device);
  if (through == Through::Direct) {
    auto drv = ixgbe::Driver::create(*dev, ixgbe::DriverConfig{}, error);
    if (!drv) return nullptr;
    auto net = ixgbe::make_ixgbe_net(std::move(drv));
    return std::make_unique<DirectPort>(std::move(dev), std::move(net), sim);
  }
  pci::DeviceRef ref = pci::attach(std::move(dev));
  LoadError lerr;
  auto l = net::load_ixgbe(ixgbe_so, "ixgbe", net::IxgbeInit{ref, 1, 1}, &lerr);
  if (!l) {
    *error = lerr.message;
    pci::detach(ref);
    return nullptr;
  }
  return std::make_unique<DomainPort>(ref, std::move(l), through == Through::Shadow, sim);
}

}  // namespace rl::maglev
