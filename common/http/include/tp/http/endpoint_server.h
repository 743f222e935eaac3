// A server carrying only the standard endpoints (GET /healthz, /readyz, /metrics), for
// services whose own work is not HTTP: the streamer and the collector.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "tp/http/server.h"
#include "tp/status.h"

namespace tp::http {

// Binds `listen` and starts serving on one io thread; `registry` (not owned) is rendered
// on /metrics and receives the server's request metrics; `readiness` may be null (always
// ready). Errors: InvalidArgument for a bad listen address, Unavailable when it cannot
// be bound.
Result<std::unique_ptr<Server>> StartEndpointServer(const std::string& listen,
                                                    metrics::Registry* registry,
                                                    std::function<Status()> readiness,
                                                    const std::string& log_component);

}  // namespace tp::http
