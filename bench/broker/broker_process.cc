#include "broker_process.h"

#include <cstdlib>
#include <thread>

#include "tp/http/client.h"
#include "tp/testing/child_process.h"
#include "tp/testing/testing.h"

namespace tp::bench {

Result<std::unique_ptr<BrokerProcess>> BrokerProcess::Start(
    const BrokerProcessOptions& options) {
  std::unique_ptr<BrokerProcess> broker(new BrokerProcess());
  // A port that was free a moment ago may be taken before the broker binds it: retry.
  std::string last_error;
  for (int attempt = 0; attempt < 3; ++attempt) {
    const int port = testing::FreeLoopbackPort();
    broker->url_ = "http://127.0.0.1:" + std::to_string(port);
    std::vector<std::string> argv = {options.binary.string(),
                                     "--log-format",
                                     "text",
                                     "--log-level",
                                     "warn",
                                     options.mode,
                                     "--listen",
                                     "127.0.0.1:" + std::to_string(port),
                                     "--data-dir",
                                     options.data_dir.string(),
                                     "--sync",
                                     options.sync};
    if (!options.topics.empty()) {
      argv.push_back("--topics");
      argv.push_back(options.topics);
    }
    if (options.threads > 0) {
      argv.push_back("--threads");
      argv.push_back(std::to_string(options.threads));
    }
    broker->child_ = std::make_unique<testing::ChildProcess>(argv, options.stderr_file);
    http::ClientOptions client_options;
    client_options.connect_timeout = std::chrono::seconds(1);
    client_options.timeout = std::chrono::seconds(5);
    TP_ASSIGN_OR_RETURN(broker->client_,
                        http::Client::Create(broker->url_, client_options));
    const auto deadline = std::chrono::steady_clock::now() + options.ready_timeout;
    while (std::chrono::steady_clock::now() < deadline && !broker->child_->Exited()) {
      auto r = broker->client_->Get("/readyz");
      if (r.ok() && r->status == 200)
        return broker;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    broker->child_->KillAndWait();
    last_error = broker->child_->Stderr();
  }
  return Status::Unavailable("broker did not become ready: " + last_error);
}

BrokerProcess::~BrokerProcess() {
  Stop(std::chrono::seconds(5));
}

pid_t BrokerProcess::pid() const {
  return child_->pid();
}

Result<std::string> BrokerProcess::Metrics() {
  TP_ASSIGN_OR_RETURN(auto r, client_->Get("/metrics"));
  if (r.status != 200)
    return Status::Unavailable("GET /metrics: HTTP " + std::to_string(r.status));
  return std::move(r.body);
}

void BrokerProcess::Stop(std::chrono::milliseconds grace) {
  if (child_)
    child_->TerminateAndWait(grace);
}

double SumSamples(std::string_view text,
                  std::string_view name,
                  const std::vector<std::string_view>& labels) {
  double sum = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos)
      end = text.size();
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (!line.starts_with(name) || line.size() <= name.size())
      continue;
    const char after = line[name.size()];
    if (after != ' ' && after != '{')
      continue;
    const std::size_t value_at = line.rfind(' ');
    const std::string_view label_set = line.substr(name.size(), value_at - name.size());
    bool match = true;
    for (std::string_view l : labels)
      match = match && label_set.find(l) != std::string_view::npos;
    if (match)
      sum += std::strtod(std::string(line.substr(value_at + 1)).c_str(), nullptr);
  }
  return sum;
}

}  // namespace tp::bench
