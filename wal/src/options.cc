#include "wal/options.h"

#include <cctype>

#include "wal/types.h"

namespace tp::wal {

Result<SyncPolicy> ParseSyncPolicy(std::string_view text) {
  if (text == "always")
    return SyncPolicy::kAlways;
  if (text == "interval")
    return SyncPolicy::kInterval;
  if (text == "none")
    return SyncPolicy::kNone;
  return Status::InvalidArgument("sync policy must be always, interval or none, got '" +
                                 std::string(text) + "'");
}

std::string_view SyncPolicyName(SyncPolicy policy) {
  switch (policy) {
    case SyncPolicy::kAlways:
      return "always";
    case SyncPolicy::kInterval:
      return "interval";
    case SyncPolicy::kNone:
      return "none";
  }
  return "unknown";
}

Status Options::Validate() const {
  if (sync == SyncPolicy::kInterval && sync_interval.count() <= 0) {
    return Status::InvalidArgument("sync_interval must be positive with sync=interval");
  }
  if (max_record_bytes == 0)
    return Status::InvalidArgument("max_record_bytes must be > 0");
  if (max_group_commit_records == 0) {
    return Status::InvalidArgument("max_group_commit_records must be > 0");
  }
  if (maintenance_interval.count() < 0 || retention_age.count() < 0) {
    return Status::InvalidArgument("intervals and ages must not be negative");
  }
  return Status::Ok();
}

bool IsValidTopicName(std::string_view topic) {
  if (topic.empty() || topic.size() > 200)
    return false;
  for (char c : topic) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' &&
        c != '-') {
      return false;
    }
  }
  return true;
}

std::string TopicPartition::ToString() const {
  return topic + "/" + std::to_string(partition.value());
}

}  // namespace tp::wal
