#include "domains/fs/mount.hpp"

#include "domains/fs/fs.hpp"   // make_fs

namespace rl::fs {

std::unique_ptr<Mount> Mount::open(Disk& disk, const MountOptions& o, std::string* error) {
  std::unique_ptr<Mount> m(new Mount(disk));
  FsInit init{};
  init.cache_blocks = o.cache_blocks;
  init.commit_every = o.commit_every;
  init.fault_before_write = o.fault_before_write;
  if (o.through == "direct") {
    // Trusted code calls the disk itself: no gate, no domain.
    init.disk = Cap<blk::NvmeBDev>::from_proxy(&disk.bdev());
    m->direct_ = make_fs(init, error);
    if (!m->direct_) return nullptr;
    m->fs_ = m->direct_.get();
    return m;
  }
  if (o.through != "domain") {
    *error = "--fs-through " + o.through + ": use domain or direct";
    return nullptr;
  }
  init.disk = disk.cap();
  LoadError lerr;
  m->init_ = init;
  m->loaded_ = load_fs(std::string(RL_FS_DOMAIN_DIR) + "/fs.so", "fs", init, &lerr);
  if (!m->loaded_) {
    *error = "cannot mount " + disk.spec() + ": " + lerr.message;
    return nullptr;
  }
  m->fs_ = m->loaded_.proxy.get();
  return m;
}

bool Mount::recover(std::string* error) {
  Domain* d = domain();
  if (!d) {
    *error = "the file system runs without a domain: nothing to restart";
    return false;
  }
  if (d->alive()) return true;
  if (!init_.fault_before_write) {
    if (!d->restart().ok()) {
      *error = "the fs domain could not mount again: " + d->info().last_message;
      return false;
    }
  } else {
    // A restart would re-run the factory with the same init -- and the same
    // injected fault.  Load a fresh instance without it instead.
    init_.fault_before_write = 0;
    loaded_ = {};
    LoadError lerr;
    loaded_ = load_fs(std::string(RL_FS_DOMAIN_DIR) + "/fs.so", "fs", init_, &lerr);
    if (!loaded_) {
      fs_ = nullptr;
      *error = "the fs domain could not mount again: " + lerr.message;
      return false;
    }
    fs_ = loaded_.proxy.get();
  }
  ++recoveries_;
  return true;
}

Mount::~Mount() {
  if (fs_) (void)fs_->sync();   // what the application did not fsync reaches the disk on a clean unmount
  loaded_ = {};
  direct_.reset();
}

}  // namespace rl::fs
