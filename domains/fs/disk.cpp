#include "domains/fs/disk.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace rl::fs {

namespace {

// An image file becomes a simulated NVMe drive with 4 KiB logical blocks
// whose storage is the file: what reached it survives the process.
bool image_spec(const std::string& path, const DiskOptions& o, std::string* spec, std::string* error) {
  struct stat st{};
  if (stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT || o.create_bytes == 0) {
      *error = "cannot open image " + path + ": " + strerror(errno) +
               (errno == ENOENT ? " (create one with rl-mkfs --size 64M " + path + ")" : "");
      return false;
    }
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0644);
    if (fd < 0 || ftruncate(fd, static_cast<off_t>(o.create_bytes)) != 0) {
      *error = "cannot create image " + path + ": " + strerror(errno);
      if (fd >= 0) ::close(fd);
      return false;
    }
    ::close(fd);
    st.st_size = static_cast<off_t>(o.create_bytes);
    st.st_mode = S_IFREG;
  }
  if (!S_ISREG(st.st_mode)) {
    *error = path + " is not a regular file: give an image file or a device spec (sim:nvme,..., a PCI address)";
    return false;
  }
  if (st.st_size % 4096 != 0 || st.st_size == 0) {
    *error = "image " + path + " is " + std::to_string(st.st_size) +
             " bytes: an image is a non-empty multiple of 4096 bytes";
    return false;
  }
  *spec = "sim:nvme,lba=4096,blocks=" + std::to_string(st.st_size / 4096) + ",file=" + path;
  return true;
}

}  // namespace

bool is_device_spec(const std::string& s) {
  if (s.rfind("sim:", 0) == 0) return true;
  // A PCI address: dddd:bb:dd.f
  return s.size() == 12 && s[4] == ':' && s[7] == ':' && s[10] == '.';
}

bool parse_size(const std::string& text, uint64_t* bytes) {
  if (text.empty()) return false;
  std::size_t used = 0;
  unsigned long long v = 0;
  try {
    v = std::stoull(text, &used);
  } catch (...) {
    return false;
  }
  uint64_t unit = 1;
  std::string suffix = text.substr(used);
  if (suffix == "K" || suffix == "k" || suffix == "KiB") unit = 1 << 10;
  else if (suffix == "M" || suffix == "MiB") unit = 1 << 20;
  else if (suffix == "G" || suffix == "GiB") unit = 1 << 30;
  else if (!suffix.empty()) return false;
  if (v == 0 || v > (uint64_t{1} << 44) / unit) return false;
  *bytes = v * unit;
  return true;
}

std::unique_ptr<Disk> Disk::open(const std::string& spec_in, const DiskOptions& o, std::string* error) {
  if (o.through != "shadow" && o.through != "domain") {
    *error = "--through " + o.through + ": use shadow or domain";
    return nullptr;
  }
  std::unique_ptr<Disk> d(new Disk);
  d->spec_ = spec_in;
  std::string spec = spec_in;
  if (!is_device_spec(spec) && !image_spec(spec_in, o, &spec, error)) return nullptr;

  auto dev = pci::open(spec, error);
  if (!dev) return nullptr;
  d->ref_ = pci::attach(std::move(dev));
  LoadError lerr;
  const bool ram = spec.rfind("sim:ram", 0) == 0;
  if (ram)
    d->driver_ = blk::load_membdev(std::string(RL_MEMBDEV_DOMAIN_DIR) + "/membdev.so", "membdev",
                                   blk::MemBDevInit{d->ref_}, &lerr);
  else
    d->driver_ = blk::load_nvme(std::string(RL_NVME_DOMAIN_DIR) + "/nvme.so", "nvme",
                                blk::NvmeInit{d->ref_, 1, 64}, &lerr);
  if (!d->driver_) {
    *error = std::string(ram ? "the membdev" : "the NVMe") + " driver domain: " + lerr.message;
    return nullptr;
  }
  // A failed driver's queue memory is about to be freed: stop the device's DMA first.
  pci::DeviceRef ref = d->ref_;
  d->driver_.domain->on_reclaim([ref] {
    std::string e;
    if (pci::Device* dv = pci::lookup(ref)) dv->reset(&e);
  });
  d->front_ = d->driver_.proxy.get();
  if (o.through == "shadow") {
    d->shadow_ = std::make_unique<blk::BlockDeviceShadow>(*d->driver_.domain, d->ref_);
    d->front_ = d->shadow_.get();
  }
  auto info = d->front_->info();
  if (!info.ok()) {
    *error = std::string("the block device does not answer: ") + to_string(info.error());
    return nullptr;
  }
  d->blocks_ = info.value().blocks;
  d->gate_ = std::make_unique<blk::BDevGate>(*d->front_);
  return d;
}

Disk::~Disk() {
  gate_.reset();
  shadow_.reset();
  driver_ = {};
  if (ref_.id) pci::detach(ref_);
}

}  // namespace rl::fs
