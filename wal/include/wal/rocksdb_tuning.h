// The RocksDB options the log opens its database and its records column family with,
// shared with the benchmark that compares the log against raw RocksDB writes, so that
// both sides run the same engine configuration.
#pragma once

#include <rocksdb/options.h>

namespace tp::wal {

// Record keys are (topic, partition, offset), and each partition only ever appends
// offsets in order; the log writes from one thread at a time (its group commit).
// So the memtable keeps an insert hint per partition, which turns each insert's skip
// list search into a step from the partition's previous record; RocksDB ignores hints
// when several threads insert concurrently, so concurrent memtable writes are off.
// Also sets the records column family's write buffer (64 MiB), no compression in
// levels 0 and 1 (where short-lived records live and die), and 2 background jobs, and
// lowers the CPU priority of db->env's compaction threads (nice 19, process-wide; flushes
// keep normal priority).
void ApplyRecordsTuning(rocksdb::DBOptions* db, rocksdb::ColumnFamilyOptions* records);

}  // namespace tp::wal
