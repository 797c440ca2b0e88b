// The null network device (nullnet.cpp), linkable directly or as nullnet.so.
#pragma once

#include <memory>

#include "idl/net.hpp"

namespace rl::net {

std::unique_ptr<Net> make_nullnet(const NullNetInit& init);

}  // namespace rl::net
