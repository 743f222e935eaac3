#include "wire.h"

#include <cstring>
#include <memory>

#include <flatbuffers/flatbuffers.h>

#include "broker_generated.h"

namespace tp::broker::wire {
namespace {

const uint8_t* Bytes(std::string_view s) {
  return reinterpret_cast<const uint8_t*>(s.data());
}

std::string Finish(flatbuffers::FlatBufferBuilder& b) {
  return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
}

template <typename T>
Result<const T*> Verified(std::string_view body, std::string_view what) {
  flatbuffers::Verifier verifier(Bytes(body), body.size());
  if (body.size() < 8 || !verifier.VerifyBuffer<T>(nullptr)) {
    return Status::InvalidArgument(std::string(what) + " is not a valid flatbuffer");
  }
  return flatbuffers::GetRoot<T>(body.data());
}

std::string Str(const flatbuffers::String* s) {
  return s ? s->str() : std::string();
}
std::string_view View(const flatbuffers::String* s) {
  return s ? std::string_view(s->c_str(), s->size()) : std::string_view();
}
std::string_view View(const flatbuffers::Vector<uint8_t>* v) {
  return v ? std::string_view(reinterpret_cast<const char*>(v->data()), v->size())
           : std::string_view();
}
std::string Blob(const flatbuffers::Vector<uint8_t>* v) {
  return v ? std::string(reinterpret_cast<const char*>(v->data()), v->size())
           : std::string();
}

Result<Uuid> UuidFrom(const flatbuffers::Vector<uint8_t>* v, std::string_view field) {
  if (!v || v->size() != 16) {
    return Status::InvalidArgument(std::string(field) + " must be 16 bytes");
  }
  std::array<uint8_t, 16> bytes{};
  std::memcpy(bytes.data(), v->data(), 16);
  return Uuid(bytes);
}

}  // namespace

Status DecodePublish(std::string body, uint32_t max_messages, PublishBatch* batch) {
  auto bytes = std::make_unique<const std::string>(std::move(body));
  TP_ASSIGN_OR_RETURN(const fb::PublishRequest* req,
                      Verified<fb::PublishRequest>(*bytes, "publish body"));
  const uint32_t count = req->messages() ? req->messages()->size() : 0;
  TP_RETURN_IF_ERROR(CheckMessageCount(count, max_messages));
  batch->topic = Str(req->topic());
  batch->messages.clear();
  batch->messages.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    const fb::PublishMessage* m = req->messages()->Get(i);
    PublishMessage out;
    out.key = View(m->key());
    if (m->msg_uuid()) {
      TP_ASSIGN_OR_RETURN(
          Uuid id,
          UuidFrom(m->msg_uuid(), "messages[" + std::to_string(i) + "].msg_uuid"));
      out.msg_uuid = id;
    }
    out.payload = View(m->payload());
    batch->messages.push_back(out);
  }
  batch->bytes = std::move(bytes);
  return Status::Ok();
}

std::string EncodeFetchRequest(const FetchRequest& request) {
  flatbuffers::FlatBufferBuilder b(256);
  std::vector<flatbuffers::Offset<fb::FetchPartitionRequest>> parts;
  for (const auto& p : request.partitions) {
    parts.push_back(fb::CreateFetchPartitionRequest(b, p.partition, p.from));
  }
  auto topic = b.CreateString(request.topic);
  auto v = b.CreateVector(parts);
  b.Finish(fb::CreateFetchRequest(b,
                                  topic,
                                  v,
                                  request.max_records_per_partition,
                                  request.max_bytes,
                                  static_cast<uint32_t>(request.wait.count())));
  return Finish(b);
}

Result<FetchRequest> DecodeFetchRequest(std::string_view body) {
  TP_ASSIGN_OR_RETURN(const fb::FetchRequest* req,
                      Verified<fb::FetchRequest>(body, "fetch body"));
  FetchRequest out;
  out.topic = Str(req->topic());
  out.max_records_per_partition = req->max_records_per_partition();
  out.max_bytes = req->max_bytes();
  out.wait = std::chrono::milliseconds(req->wait_ms());
  if (req->partitions()) {
    for (const fb::FetchPartitionRequest* p : *req->partitions()) {
      out.partitions.push_back({p->partition(), p->from()});
    }
  }
  return out;
}

std::string EncodeFetchResponse(const FetchResponse& response) {
  flatbuffers::FlatBufferBuilder b(64 * 1024);
  std::vector<flatbuffers::Offset<fb::FetchedPartition>> parts;
  for (const auto& p : response.partitions) {
    std::vector<flatbuffers::Offset<fb::FetchedRecord>> records;
    records.reserve(p.records.size());
    for (const auto& r : p.records) {
      auto uuid = b.CreateVector(r.msg_uuid.bytes().data(), 16);
      auto key = b.CreateString(r.key);
      auto payload = b.CreateVector(Bytes(r.payload), r.payload.size());
      records.push_back(
          fb::CreateFetchedRecord(b, r.offset, uuid, key, r.publish_time_us, payload));
    }
    auto rv = b.CreateVector(records);
    auto err = p.error.empty() ? flatbuffers::Offset<flatbuffers::String>()
                               : b.CreateString(p.error);
    parts.push_back(fb::CreateFetchedPartition(
        b, p.partition, p.first, p.next, rv, err, p.error_offset));
  }
  auto v = b.CreateVector(parts);
  b.Finish(fb::CreateFetchResponse(b, v));
  return Finish(b);
}

Result<FetchResponse> DecodeFetchResponse(std::string_view body) {
  TP_ASSIGN_OR_RETURN(const fb::FetchResponse* res,
                      Verified<fb::FetchResponse>(body, "fetch response"));
  FetchResponse out;
  if (!res->partitions())
    return out;
  for (const fb::FetchedPartition* p : *res->partitions()) {
    FetchedPartition part;
    part.partition = p->partition();
    part.first = p->first();
    part.next = p->next();
    part.error = Str(p->error());
    part.error_offset = p->error_offset();
    if (p->records()) {
      for (const fb::FetchedRecord* r : *p->records()) {
        FetchedRecord rec;
        rec.offset = r->offset();
        TP_ASSIGN_OR_RETURN(rec.msg_uuid, UuidFrom(r->msg_uuid(), "record msg_uuid"));
        rec.key = Str(r->key());
        rec.publish_time_us = r->publish_time_us();
        rec.payload = Blob(r->payload());
        part.records.push_back(std::move(rec));
      }
    }
    out.partitions.push_back(std::move(part));
  }
  return out;
}

namespace {
flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::PartitionOffset>>>
OffsetsVector(flatbuffers::FlatBufferBuilder& b,
              const std::map<uint32_t, uint64_t>& offsets) {
  std::vector<flatbuffers::Offset<fb::PartitionOffset>> items;
  for (const auto& [partition, offset] : offsets) {
    items.push_back(fb::CreatePartitionOffset(b, partition, offset));
  }
  return b.CreateVector(items);
}

std::map<uint32_t, uint64_t> OffsetsMap(
    const flatbuffers::Vector<flatbuffers::Offset<fb::PartitionOffset>>* v) {
  std::map<uint32_t, uint64_t> out;
  if (v) {
    for (const fb::PartitionOffset* o : *v)
      out[o->partition()] = o->offset();
  }
  return out;
}
}  // namespace

std::string EncodeCommitRequest(const CommitRequest& request) {
  flatbuffers::FlatBufferBuilder b(256);
  auto topic = b.CreateString(request.topic);
  auto group = b.CreateString(request.group);
  auto v = OffsetsVector(b, request.offsets);
  b.Finish(fb::CreateCommitRequest(b, topic, group, v));
  return Finish(b);
}

Result<CommitRequest> DecodeCommitRequest(std::string_view body) {
  TP_ASSIGN_OR_RETURN(const fb::CommitRequest* req,
                      Verified<fb::CommitRequest>(body, "commit body"));
  CommitRequest out;
  out.topic = Str(req->topic());
  out.group = Str(req->group());
  out.offsets = OffsetsMap(req->offsets());
  return out;
}

std::string EncodeOffsets(const std::map<uint32_t, uint64_t>& offsets) {
  flatbuffers::FlatBufferBuilder b(256);
  auto v = OffsetsVector(b, offsets);
  b.Finish(fb::CreateCommitResponse(b, v));
  return Finish(b);
}

Result<std::map<uint32_t, uint64_t>> DecodeOffsets(std::string_view body) {
  TP_ASSIGN_OR_RETURN(const fb::CommitResponse* res,
                      Verified<fb::CommitResponse>(body, "commit response"));
  return OffsetsMap(res->offsets());
}

}  // namespace tp::broker::wire
