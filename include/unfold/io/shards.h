// shards.h: the shard-folder format for large activation sets (written by `unfold data synth` and
// `unfold lm cache`, read by the dictionary-learning sources).
//
// A folder holds:
//   index.json                      {"format": "unfold-shards", "version": 1, "d": 256, "dtype": "f32"|"f16",
//                                    "rows": <total>, "rows_per_shard": N, "columns": ["token_id", "position"],
//                                    "complete": true|false, "ground_truth": "ground_truth.npy" (optional),
//                                    "meta": {...free-form: model, hook, recipe...},
//                                    "shards": [{"file": "shard_00000.npy", "rows": N, "bytes": B,
//                                                "columns": {"token_id": "shard_00000.token_id.npy", ...}}, ...]}
//   shard_00000.npy ...             [rows, d] '<f4' or '<f2', C order ("bytes" = the whole file's size)
//   shard_00000.<column>.npy        [rows] '<i4' per extra per-row column (token ids, sequence index, position)
//   ground_truth.npy                [n_true, d] '<f4' unit rows (planted dictionaries), optional
//
// Writing: ShardWriter buffers at most one shard (rows_per_shard * d * 4 bytes + columns) in memory, writes
// each shard atomically (temp + rename) when full, then rewrites index.json atomically, so after a crash the
// folder is always a valid set of complete shards. finish() writes the last partial shard and marks the
// index complete. Resumable mode reopens a folder, validates it, reloads a trailing partial shard into the
// buffer and continues appending (rows_written() tells the caller where to restart its own stream).
//
// Reading: ShardReader validates index.json against the files (existence, byte sizes, npy shapes and
// dtypes, row sums) with one-line errors naming the shard and the field; rows are read through memory maps,
// converted to float32, and NaN/Inf are rejected naming the shard and row.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "unfold/core/tensor.h"
#include "unfold/io/json.h"

namespace unfold {

struct ShardInfo {
    std::string file;                  // relative to the folder
    int64_t rows = 0;
    uint64_t bytes = 0;                // size of the .npy file
    std::vector<std::string> column_files;  // one per ShardIndex::columns, same order
};

struct ShardIndex {
    int64_t d = 0;
    bool f16 = false;
    int64_t rows = 0;                  // total over shards
    int64_t rows_per_shard = 0;
    bool complete = false;
    std::vector<std::string> columns;  // names of extra int32 per-row columns
    std::string ground_truth;          // file name, "" if none
    Json meta;                         // free-form object
    std::vector<ShardInfo> shards;

    Json to_json() const;
    static ShardIndex from_json(const Json& j, const std::string& ctx);  // validates types/values
};

inline const char* kShardFormat = "unfold-shards";
inline constexpr int kShardVersion = 1;

struct ShardWriterOptions {
    int64_t d = 0;
    bool f16 = false;                      // store rows as float16 (halves disk; reads convert to f32)
    int64_t rows_per_shard = 65536;
    std::vector<std::string> columns;      // extra int32 per-row columns, e.g. {"token_id", "position"}
    Json meta;                             // free-form, stored in index.json
    std::vector<std::string> resume_meta_keys;  // on resume, these string fields of meta must equal the index's
                                                // (an index without the field is accepted)
};

class ShardWriter {
  public:
    // resume = false: creates the folder; fails if it already holds an index.json ("use --resume or a new
    // folder"). resume = true: the folder must exist with an index whose d / dtype / columns match opts
    // (rows_per_shard of the existing index is kept); a trailing partial shard is reloaded.
    ShardWriter(const std::string& dir, const ShardWriterOptions& opts, bool resume = false);
    ~ShardWriter();  // does NOT finish: a writer dropped on an exception leaves the last consistent index
    ShardWriter(const ShardWriter&) = delete;
    ShardWriter& operator=(const ShardWriter&) = delete;

    // Appends x[n, d]; cols[c] points at n int32 values for column c (must give all declared columns).
    // NaN/Inf rows are rejected ("<dir>: appended row 12 (global row 70000) has NaN/Inf").
    void append(const float* x, int64_t n, const std::vector<const int32_t*>& cols = {});
    // Writes ground_truth.npy [n_true, d] (f32) and records it in the index.
    void set_ground_truth(const float* g, int64_t n_true);
    void set_meta(const Json& meta);
    // Writes the buffered partial shard (if any) and the index with complete = true.
    void finish();
    int64_t rows_written() const { return rows_total_; }  // including buffered rows
    const std::string& dir() const { return dir_; }

  private:
    std::string dir_;
    ShardIndex index_;
    std::vector<float> buf_;                 // [buffered, d]
    std::vector<std::vector<int32_t>> cbuf_; // per column
    int64_t buffered_ = 0;
    int64_t rows_total_ = 0;
    bool finished_ = false;
    void write_shard();
    void write_index();
};

class NpyMap;

class ShardReader {
  public:
    explicit ShardReader(const std::string& dir);  // loads and validates everything (headers, not data)
    ~ShardReader();
    const ShardIndex& index() const { return index_; }
    const std::string& dir() const { return dir_; }
    int64_t d() const { return index_.d; }
    int64_t rows() const { return index_.rows; }
    int64_t num_shards() const { return (int64_t)index_.shards.size(); }
    int64_t shard_rows(int64_t s) const { return index_.shards.at((size_t)s).rows; }
    // Rows [r0, r0+n) of shard s as float32 into out[n, d]. NaN/Inf -> error naming shard and row.
    // The shard's file is memory-mapped on first use (at most `max_open` maps are kept).
    void read_rows(int64_t s, int64_t r0, int64_t n, float* out) const;
    std::vector<int32_t> read_column(int64_t s, const std::string& column) const;
    bool has_ground_truth() const { return !index_.ground_truth.empty(); }
    Tensor read_ground_truth() const;  // [n_true, d], validated unit rows

  private:
    std::string dir_;
    ShardIndex index_;
    mutable std::vector<std::shared_ptr<NpyMap>> maps_;  // per shard, lazily opened
    mutable std::vector<int64_t> open_order_;
    int max_open_ = 8;
    const NpyMap& map(int64_t s) const;
};

// True if `dir` looks like a shard folder (has index.json).
bool is_shard_folder(const std::string& dir);

}  // namespace unfold
