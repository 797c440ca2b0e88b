// nullnet.so: the null network device as a domain.
#include "domains/nullnet/nullnet.hpp"
#include "idl/net.rl.hpp"

namespace rl::net {

Net* create_nullnet(const NullNetInit& init) { return make_nullnet(init).release(); }

}  // namespace rl::net

RL_DOMAIN(rl::net::create_nullnet)
