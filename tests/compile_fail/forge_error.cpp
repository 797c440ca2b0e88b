#include "libredleaf/rpc_result.hpp"
// A domain must not be able to forge a runtime error.
rl::RpcResult<int> f() { return rl::RpcResult<int>(rl::RpcError::DomainFailed); }
