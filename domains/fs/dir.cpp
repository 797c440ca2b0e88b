// Directories: arrays of fixed-size entries (format.hpp), 15 per block.
// Slots are never moved, so a slot index is a stable readdir cookie and a
// stable handle between a lookup and the change that follows it.
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "domains/fs/volume.hpp"

namespace rl::fs {

using disk::Dirent;
using disk::kBlockSize;
using disk::kDirentsPerBlock;

namespace {
uint64_t dir_blocks(const InodePtr& d) { return d->size / kBlockSize; }

void set_entry(Dirent& e, std::string_view name, uint32_t ino, uint8_t type) {
  std::memset(&e, 0, sizeof e);
  e.ino = ino;
  e.type = type;
  e.name_len = static_cast<uint16_t>(name.size());
  std::memcpy(e.name, name.data(), name.size());
}
}  // namespace

template <class Visit>
int Volume::scan_dir(InodePtr& dir, Visit&& visit) {
  for (uint64_t k = 0; k < dir_blocks(dir); ++k) {
    uint32_t bno = 0;
    if (int r = bmap(dir, k, false, &bno, nullptr); r < 0) return r;
    if (bno == 0) continue;
    BufRef b;
    if (int r = cache_.get(bno, &b); r < 0) return r;
    const Dirent* e = b->as<Dirent>();
    for (uint32_t i = 0; i < kDirentsPerBlock; ++i)
      if (e[i].ino != 0 && visit(e[i], k * kDirentsPerBlock + i)) return 0;
  }
  return 0;
}

int Volume::dir_lookup(InodePtr& dir, std::string_view name, Found* f) {
  int found = -ENOENT;
  int r = scan_dir(dir, [&](const Dirent& e, uint64_t slot) {
    if (e.name_len != name.size() || std::memcmp(e.name, name.data(), name.size()) != 0) return false;
    *f = Found{};
    f->ino = e.ino;
    f->type = e.type;
    f->slot = slot;
    found = 0;
    return true;
  });
  return r < 0 ? r : found;
}

int Volume::dir_add(InodePtr& dir, std::string_view name, uint32_t ino, uint8_t type) {
  const uint64_t nblocks = dir_blocks(dir);
  for (uint64_t k = 0; k < nblocks; ++k) {
    uint32_t bno = 0;
    if (int r = bmap(dir, k, false, &bno, nullptr); r < 0) return r;
    if (bno == 0) continue;
    BufRef b;
    if (int r = cache_.get(bno, &b); r < 0) return r;
    Dirent* e = b->as<Dirent>();
    for (uint32_t i = 0; i < kDirentsPerBlock; ++i) {
      if (e[i].ino != 0) continue;
      set_entry(e[i], name, ino, type);
      log_.write(b.get());
      return 0;
    }
  }
  // Full: grow by one block.
  uint32_t bno = 0;
  bool fresh = false;
  if (int r = bmap(dir, nblocks, true, &bno, &fresh); r < 0) return r;
  BufRef b;
  if (int r = cache_.get_zeroed(bno, &b); r < 0) return r;
  set_entry(b->as<Dirent>()[0], name, ino, type);
  log_.write(b.get());
  dir->size += kBlockSize;
  iupdate(dir);
  return 0;
}

int Volume::dir_set(InodePtr& dir, uint64_t slot, uint32_t ino, uint8_t type) {
  uint32_t bno = 0;
  if (int r = bmap(dir, slot / kDirentsPerBlock, false, &bno, nullptr); r < 0) return r;
  if (bno == 0) return -EIO;
  BufRef b;
  if (int r = cache_.get(bno, &b); r < 0) return r;
  Dirent& e = b->as<Dirent>()[slot % kDirentsPerBlock];
  if (ino == 0) {
    std::memset(&e, 0, sizeof e);
  } else {
    e.ino = ino;
    e.type = type;
  }
  log_.write(b.get());
  return 0;
}

int Volume::dir_is_empty(InodePtr& dir, bool* empty) {
  *empty = true;
  return scan_dir(dir, [&](const Dirent& e, uint64_t) {
    const std::string_view n(e.name, std::min<size_t>(e.name_len, disk::kNameMax));
    if (n == "." || n == "..") return false;
    *empty = false;
    return true;
  });
}

int Volume::dir_init(InodePtr& dir, uint32_t parent) {
  uint32_t bno = 0;
  bool fresh = false;
  if (int r = bmap(dir, 0, true, &bno, &fresh); r < 0) return r;
  BufRef b;
  if (int r = cache_.get_zeroed(bno, &b); r < 0) return r;
  set_entry(b->as<Dirent>()[0], ".", static_cast<uint32_t>(dir.ino), disk::kDir);
  set_entry(b->as<Dirent>()[1], "..", parent, disk::kDir);
  log_.write(b.get());
  dir->size = kBlockSize;
  iupdate(dir);
  return 0;
}

int Volume::dir_read(InodePtr& dir, uint64_t cookie, DirPage* page) {
  page->count = 0;
  page->status = 0;
  const uint64_t nslots = dir_blocks(dir) * kDirentsPerBlock;
  uint64_t slot = cookie;
  while (slot < nslots && page->count < kDirPageEntries) {
    uint32_t bno = 0;
    if (int r = bmap(dir, slot / kDirentsPerBlock, false, &bno, nullptr); r < 0) return r;
    if (bno == 0) {
      slot = (slot / kDirentsPerBlock + 1) * kDirentsPerBlock;
      continue;
    }
    BufRef b;
    if (int r = cache_.get(bno, &b); r < 0) return r;
    const Dirent* e = b->as<Dirent>();
    for (uint32_t i = slot % kDirentsPerBlock; i < kDirentsPerBlock && page->count < kDirPageEntries; ++i, ++slot) {
      if (e[i].ino == 0) continue;
      DirEntry& out = page->entries[page->count++];
      out.ino = e[i].ino;
      out.type = e[i].type == disk::kDir ? kTypeDir : kTypeFile;
      out.name_len = std::min<uint32_t>(e[i].name_len, disk::kNameMax);
      std::memcpy(out.name.data(), e[i].name, out.name_len);
      out.name[out.name_len] = '\0';
    }
  }
  page->next = slot < nslots ? slot : 0;
  return 0;
}

}  // namespace rl::fs
