// The sim backend: a Device whose registers are a model in this process.
#include "drivers/pci/backends.hpp"
#include "sim/models.hpp"

namespace rl::pci {

namespace {

class SimDevice final : public Device {
 public:
  SimDevice(std::string name, std::unique_ptr<Model> m) : Device(std::move(name)), owned_(std::move(m)) {
    model_ = owned_.get();
  }
  uint16_t vendor_id() const override { return owned_->vendor_id(); }
  uint16_t device_id() const override { return owned_->device_id(); }
  bool enable_dma(std::string*) override { return true; }
  bool reset(std::string*) override {
    detail::TrustedScope trusted;
    owned_->function_reset();
    return true;
  }

 private:
  std::unique_ptr<Model> owned_;
};

}  // namespace

std::unique_ptr<Device> open_sim(const std::string& spec, std::string* error) {
  std::string rest = spec.substr(4);   // after "sim:"
  auto comma = rest.find(',');
  std::string kind = rest.substr(0, comma);
  std::string options = comma == std::string::npos ? "" : rest.substr(comma + 1);
  auto model = sim::make_model(kind, options, error);
  if (!model) return nullptr;
  return std::make_unique<SimDevice>(spec, std::move(model));
}

}  // namespace rl::pci
