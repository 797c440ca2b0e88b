// fs.so: rlfs as a domain.  A device that holds no rlfs, or a damaged one,
// fails the load with the reason (as the drivers' factories do).
#include "domains/fs/fs.hpp"
#include "libredleaf/rl.hpp"

namespace rl::fs {

FileSystem* create_fs(const FsInit& init) {
  std::string error;
  auto fs = make_fs(init, &error);
  if (!fs) rl::panic(("fs: " + error).c_str());
  return fs.release();
}

}  // namespace rl::fs

RL_DOMAIN(rl::fs::create_fs)
