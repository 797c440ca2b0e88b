// netstack.so: the network stack as a domain.
#include "domains/netstack/stack.hpp"

namespace rl::netstack {

NetStack* create_netstack(const NetStackInit& init) { return make_netstack(init).release(); }

}  // namespace rl::netstack

RL_DOMAIN(rl::netstack::create_netstack)
