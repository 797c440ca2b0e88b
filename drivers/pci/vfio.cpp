// The VFIO backend: a real PCI function bound to vfio-pci.
//
// Container (type1v2 IOMMU) -> group -> device fd; BAR0 mmap'ed; the whole
// shared heap mapped for DMA with IOVA == VA; config space through the VFIO
// config region.  Every error a user meets says what to do about it.
#include <fcntl.h>
#include <linux/vfio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "drivers/pci/backends.hpp"
#include "libredleaf/shared_heap.hpp"

namespace rl::pci {

namespace {

constexpr uint32_t kPciCommand = 0x04;
constexpr uint16_t kCommandMemory = 1u << 1;
constexpr uint16_t kCommandBusMaster = 1u << 2;

std::string sysfs(const std::string& addr) { return "/sys/bus/pci/devices/" + addr; }

std::string link_target(const std::string& path) {
  char buf[PATH_MAX];
  ssize_t n = readlink(path.c_str(), buf, sizeof buf - 1);
  if (n <= 0) return "";
  buf[n] = '\0';
  std::string s(buf);
  return s.substr(s.rfind('/') + 1);
}

class VfioDevice final : public Device {
 public:
  explicit VfioDevice(const std::string& addr) : Device(addr) {}
  ~VfioDevice() override {
    if (bar0_) munmap(const_cast<uint8_t*>(bar0_), bar0_size_);
    if (device_ >= 0) close(device_);
    if (dma_mapped_) {
      vfio_iommu_type1_dma_unmap unmap{};
      unmap.argsz = sizeof unmap;
      unmap.iova = reinterpret_cast<uintptr_t>(shared_heap_base());
      unmap.size = shared_heap_size();
      ioctl(container_, VFIO_IOMMU_UNMAP_DMA, &unmap);
    }
    if (group_ >= 0) close(group_);
    if (container_ >= 0) close(container_);
  }

  bool open_all(std::string* error) {
    const std::string& addr = name();
    if (access("/dev/vfio/vfio", F_OK) != 0) {
      *error = "no /dev/vfio/vfio: load the driver (modprobe vfio-pci) and boot with the IOMMU on "
               "(intel_iommu=on or amd_iommu=on); or use a simulated device (sim:nvme)";
      return false;
    }
    if (access(sysfs(addr).c_str(), F_OK) != 0) {
      *error = "no PCI device " + addr + " on this machine (./redleaf setup status lists them)";
      return false;
    }
    std::string group = link_target(sysfs(addr) + "/iommu_group");
    if (group.empty()) {
      *error = addr + " has no IOMMU group: the IOMMU is off; boot with intel_iommu=on (or amd_iommu=on)";
      return false;
    }
    std::string driver = link_target(sysfs(addr) + "/driver");
    if (driver != "vfio-pci") {
      *error = addr + " is bound to " + (driver.empty() ? std::string("no driver") : driver) +
               ", not vfio-pci: run ./redleaf setup bind " + addr;
      return false;
    }
    container_ = ::open("/dev/vfio/vfio", O_RDWR);
    if (container_ < 0) return fail(error, "cannot open /dev/vfio/vfio", "run as root or give your user access");
    if (ioctl(container_, VFIO_GET_API_VERSION) != VFIO_API_VERSION ||
        !ioctl(container_, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU)) {
      *error = "this kernel's VFIO lacks the type1v2 IOMMU: use a kernel with VFIO_IOMMU_TYPE1";
      return false;
    }
    std::string group_path = "/dev/vfio/" + group;
    group_ = ::open(group_path.c_str(), O_RDWR);
    if (group_ < 0)
      return fail(error, "cannot open " + group_path,
                  errno == EBUSY ? "another process holds the group" : "run as root, or chown the group file");
    vfio_group_status status{};
    status.argsz = sizeof status;
    ioctl(group_, VFIO_GROUP_GET_STATUS, &status);
    if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
      *error = "IOMMU group " + group + " is not viable: another device in it is bound to a host driver; "
               "bind every device of /sys/kernel/iommu_groups/" + group + "/devices to vfio-pci";
      return false;
    }
    if (ioctl(group_, VFIO_GROUP_SET_CONTAINER, &container_) != 0)
      return fail(error, "VFIO_GROUP_SET_CONTAINER failed", "check that no other process uses the group");
    if (ioctl(container_, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) != 0)
      return fail(error, "VFIO_SET_IOMMU failed",
                  errno == EPERM ? "the IOMMU lacks interrupt remapping (enable it, e.g. intremap=on)"
                                 : "check dmesg for the IOMMU's complaint");
    // The whole shared heap, IOVA == VA: any RRef buffer can be handed to the device.
    vfio_iommu_type1_dma_map map{};
    map.argsz = sizeof map;
    map.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
    map.vaddr = reinterpret_cast<uintptr_t>(shared_heap_base());
    map.iova = map.vaddr;
    map.size = shared_heap_size();
    if (ioctl(container_, VFIO_IOMMU_MAP_DMA, &map) != 0)
      return fail(error, "VFIO_IOMMU_MAP_DMA of the shared heap failed",
                  errno == EINVAL ? "the heap's addresses are beyond the IOMMU's address width "
                                    "(the runtime places the heap at 64 GiB when it can)"
                                  : "raise the locked-memory limit (ulimit -l) or run as root");
    dma_mapped_ = true;
    device_ = ioctl(group_, VFIO_GROUP_GET_DEVICE_FD, addr.c_str());
    if (device_ < 0) return fail(error, "VFIO_GROUP_GET_DEVICE_FD failed", "is the address right?");
    vfio_region_info bar{};
    bar.argsz = sizeof bar;
    bar.index = VFIO_PCI_BAR0_REGION_INDEX;
    if (ioctl(device_, VFIO_DEVICE_GET_REGION_INFO, &bar) != 0 || !(bar.flags & VFIO_REGION_INFO_FLAG_MMAP))
      return fail(error, "BAR0 cannot be mapped", "the device's BAR0 must be a memory BAR");
    void* p = mmap(nullptr, bar.size, PROT_READ | PROT_WRITE, MAP_SHARED, device_, static_cast<off_t>(bar.offset));
    if (p == MAP_FAILED) return fail(error, "mmap of BAR0 failed", "check dmesg");
    bar0_ = static_cast<volatile uint8_t*>(p);
    bar0_size_ = bar.size;
    vfio_region_info cfg{};
    cfg.argsz = sizeof cfg;
    cfg.index = VFIO_PCI_CONFIG_REGION_INDEX;
    if (ioctl(device_, VFIO_DEVICE_GET_REGION_INFO, &cfg) != 0)
      return fail(error, "no VFIO config region", "check dmesg");
    config_ = cfg.offset;
    return true;
  }

  uint16_t vendor_id() const override { return config16(0x00); }
  uint16_t device_id() const override { return config16(0x02); }

  bool enable_dma(std::string* error) override {
    uint16_t cmd = config16(kPciCommand) | kCommandMemory | kCommandBusMaster;
    if (pwrite(device_, &cmd, sizeof cmd, static_cast<off_t>(config_ + kPciCommand)) != sizeof cmd)
      return fail(error, "cannot write the PCI command register", "check dmesg");
    return true;
  }

  bool reset(std::string* error) override {
    if (ioctl(device_, VFIO_DEVICE_RESET) != 0)
      return fail(error, "VFIO_DEVICE_RESET failed",
                  errno == EINVAL ? "the kernel knows no way to reset this device (no FLR, PM or bus reset); "
                                    "see /sys/bus/pci/devices/" + name() + "/reset_method"
                                  : "the reset did not complete; dmesg says why");
    return enable_dma(error);
  }

 private:
  uint16_t config16(uint32_t off) const {
    uint16_t v = 0xFFFF;
    if (pread(device_, &v, sizeof v, static_cast<off_t>(config_ + off)) != sizeof v) return 0xFFFF;
    return v;
  }
  static bool fail(std::string* error, const std::string& what, const std::string& fix) {
    *error = what + " (" + strerror(errno) + "): " + fix;
    return false;
  }

  int container_ = -1, group_ = -1, device_ = -1;
  bool dma_mapped_ = false;
  std::size_t bar0_size_ = 0;
  uint64_t config_ = 0;
};

}  // namespace

std::unique_ptr<Device> open_vfio(const std::string& addr, std::string* error) {
  auto d = std::make_unique<VfioDevice>(addr);
  if (!d->open_all(error)) return nullptr;
  return d;
}

}  // namespace rl::pci
