// Module -> the generated header: traits, proxies, shadow skeletons, loaders.
#pragma once

#include <string>

#include "model.hpp"

namespace idlc {

std::string generate_header(const Module& m);

}  // namespace idlc
