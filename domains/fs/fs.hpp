// rlfs: the FileSystem of idl/fs.hpp over a formatted block device.
//
// make_fs mounts: checks the superblock, replays the log, frees the inodes a
// crash left orphaned.  It builds the file system in the caller's domain:
// fs.so's factory (domain.cpp) for the isolated file system, or directly in
// trusted code ("direct" mounts, tests).  Not thread-safe: one caller at a
// time, as through one proxy.
#pragma once

#include <memory>
#include <string>

#include "idl/fs.rl.hpp"

namespace rl::fs {

// nullptr with *err saying why (no rlfs, damaged superblock, I/O error).
std::unique_ptr<FileSystem> make_fs(const FsInit& init, std::string* err);

}  // namespace rl::fs
