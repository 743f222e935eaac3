#include "tp/http/endpoint_server.h"

namespace tp::http {

Result<std::unique_ptr<Server>> StartEndpointServer(const std::string& listen,
                                                    metrics::Registry* registry,
                                                    std::function<Status()> readiness,
                                                    const std::string& log_component) {
  Router router;
  TP_RETURN_IF_ERROR(InstallStandardEndpoints(router, {registry, std::move(readiness)}));
  ServerOptions options;
  options.listen = listen;
  options.registry = registry;
  options.threads = 1;
  options.log_component = log_component;
  TP_ASSIGN_OR_RETURN(auto server, Server::Create(options));
  TP_RETURN_IF_ERROR(server->Start(std::move(router)));
  return server;
}

}  // namespace tp::http
