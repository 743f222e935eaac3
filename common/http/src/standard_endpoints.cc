#include "tp/http/server.h"
#include "tp/metrics/metrics.h"

namespace tp::http {

Status InstallStandardEndpoints(Router& router, StandardEndpoints endpoints) {
  TP_RETURN_IF_ERROR(router.AddSync(
      "GET", "/healthz", [](const Request&) { return Text(200, "ok\n"); }));
  TP_RETURN_IF_ERROR(router.AddSync(
      "GET", "/readyz", [readiness = std::move(endpoints.readiness)](const Request&) {
        if (readiness) {
          const Status status = readiness();
          if (!status.ok()) {
            return Problem(503, "Not Ready", status.message());
          }
        }
        return Text(200, "ok\n");
      }));
  if (endpoints.registry != nullptr) {
    TP_RETURN_IF_ERROR(router.AddSync(
        "GET", "/metrics", [registry = endpoints.registry](const Request&) {
          Response r = Text(200, registry->Render());
          r.content_type = "text/plain; version=0.0.4; charset=utf-8";
          return r;
        }));
  }
  return Status::Ok();
}

}  // namespace tp::http
